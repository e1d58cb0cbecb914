// Command tracing runs a client → queue device → worker chain over tcp on
// 127.0.0.1 with OpenTelemetry tracing (contrib/otel), and prints the
// trace tree the SDK's in-memory span recorder saw: one trace id, the
// client's CLIENT span, the queue's hop span its child, the worker's
// SERVER span the hop's child.
//
//	cd contrib/otel && go run ./examples/tracing
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	zmqotel "github.com/zmqkit/zmqkit/contrib/otel"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, 2); err != nil {
		fmt.Fprintln(os.Stderr, "tracing:", err)
		os.Exit(1)
	}
}

// run makes n traced requests through the chain and prints their trees.
func run(ctx context.Context, w io.Writer, n int) error {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tel := zmqotel.New(zmqotel.WithTracerProvider(tp))

	// The queue device: ROUTER for clients, DEALER for workers, a span
	// per request it forwards.
	front, err := sockets.NewRouter()
	if err != nil {
		return err
	}
	defer front.Close()
	back, err := sockets.NewDealer()
	if err != nil {
		return err
	}
	defer back.Close()
	fa, err := front.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	ba, err := back.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	queue, err := devices.NewQueue(front, back, devices.WithHop(tel.ProxyHop("queue")), devices.WithDrain(0))
	if err != nil {
		return err
	}
	qctx, stopQueue := context.WithCancel(ctx)
	queueDone := make(chan error, 1)
	go func() { queueDone <- queue.Run(qctx) }()
	defer func() { stopQueue(); <-queueDone }()

	// The worker: a typed REP whose handler runs in a SERVER span.
	worker, err := sockets.NewRepOf(codec.String(), codec.String(), sockets.WithHeaders(true))
	if err != nil {
		return err
	}
	defer worker.Close()
	if err := worker.Dial(ba); err != nil {
		return err
	}
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- worker.Serve(wctx, zmqotel.Handler(tel, "upper", func(ctx context.Context, q string) (string, error) {
			return strings.ToUpper(q), nil
		}))
	}()
	defer func() { stopWorker(); <-workerDone }()

	// The client: a typed REQ whose calls are CLIENT spans.
	client, err := sockets.NewReqOf(codec.String(), codec.String(), sockets.WithHeaders(true))
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Dial(fa); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		r, err := zmqotel.Call(ctx, tel, client, "upper", fmt.Sprintf("request %d", i))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "reply: %s\n", r)
	}
	// The queue ends its hop's span once it has handed the request on,
	// on its own goroutine: wait for the three spans of each request.
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for len(rec.Ended()) < 3*n {
		select {
		case <-tk.C:
		case <-ctx.Done():
			return fmt.Errorf("%d spans of %d ended: %w", len(rec.Ended()), 3*n, ctx.Err())
		}
	}
	printTrees(w, rec.Ended())
	return nil
}

// printTrees prints each trace as a tree of its spans, children under
// their parent, in start order.
func printTrees(w io.Writer, spans []sdktrace.ReadOnlySpan) {
	sort.Slice(spans, func(i, j int) bool { return spans[i].StartTime().Before(spans[j].StartTime()) })
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	known := map[trace.SpanID]bool{}
	for _, s := range spans {
		known[s.SpanContext().SpanID()] = true
	}
	for _, s := range spans {
		if p := s.Parent(); p.IsValid() && known[p.SpanID()] {
			children[p.SpanID()] = append(children[p.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		fmt.Fprintf(w, "%s%s [%s] span %s parent %s\n", strings.Repeat("  ", depth), s.Name(), s.SpanKind(),
			s.SpanContext().SpanID(), parentOf(s))
		for _, c := range children[s.SpanContext().SpanID()] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		fmt.Fprintf(w, "trace %s\n", r.SpanContext().TraceID())
		walk(r, 1)
	}
}

func parentOf(s sdktrace.ReadOnlySpan) string {
	if !s.Parent().IsValid() {
		return "-"
	}
	return s.Parent().SpanID().String()
}
