package zmqotel_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zmqkit/zmqkit/codec"
	zmqotel "github.com/zmqkit/zmqkit/contrib/otel"
	"github.com/zmqkit/zmqkit/sockets"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type countingHook struct{ n atomic.Int64 }

func (h *countingHook) OnSend(context.Context, sockets.Msg)               { h.n.Add(1) }
func (h *countingHook) OnRecv(context.Context, sockets.Msg, sockets.Peer) { h.n.Add(1) }

// countingProcessor ends spans and counts them: the SDK records every
// span, and nothing piles up in memory over b.N messages.
type countingProcessor struct{ n atomic.Int64 }

func (p *countingProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (p *countingProcessor) OnEnd(sdktrace.ReadOnlySpan)                     { p.n.Add(1) }
func (p *countingProcessor) Shutdown(context.Context) error                  { return nil }
func (p *countingProcessor) ForceFlush(context.Context) error                { return nil }

// BenchmarkOverhead is a typed PUSH → PULL over inproc, 128-byte string
// values, both in this process: without hooks, with a counting send and
// receive hook on each socket, and traced (zmqotel.Send / zmqotel.Recv:
// a PRODUCER and a CONSUMER span per message through the OpenTelemetry
// SDK, W3C trace context in a header frame). Figures, not assertions.
func BenchmarkOverhead(b *testing.B) {
	for _, mode := range []string{"no-hooks", "hooks", "tracing"} {
		b.Run(mode+"/128B", func(b *testing.B) {
			ctx := context.Background()
			var opts []sockets.Option
			hook := &countingHook{}
			proc := &countingProcessor{}
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc))
			defer tp.Shutdown(ctx)
			tel := zmqotel.New(zmqotel.WithTracerProvider(tp))
			switch mode {
			case "hooks":
				opts = append(opts, sockets.WithHooks(hook))
			case "tracing":
				opts = append(opts, sockets.WithHeaders(true), sockets.WithHooks(tel.Hook()))
			}
			ep := fmt.Sprintf("inproc://bench-overhead-%s", mode)
			pull, err := sockets.NewPullOf(codec.String(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer pull.Close()
			if _, err := pull.Listen(ep); err != nil {
				b.Fatal(err)
			}
			push, err := sockets.NewPushOf(codec.String(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer push.Close()
			if err := push.Dial(ep); err != nil {
				b.Fatal(err)
			}
			v := strings.Repeat("x", 128)
			b.SetBytes(128)
			b.ReportAllocs()
			b.ResetTimer()
			done := make(chan error, 1)
			go func() {
				for i := 0; i < b.N; i++ {
					var err error
					if mode == "tracing" {
						err = zmqotel.Send(ctx, tel, push, "bench", v)
					} else {
						err = push.Send(ctx, v)
					}
					if err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			for i := 0; i < b.N; i++ {
				if mode == "tracing" {
					_, _, end, err := zmqotel.Recv(ctx, tel, pull, "bench")
					if err != nil {
						b.Fatal(err)
					}
					end(nil)
				} else if _, err := pull.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if mode == "tracing" && proc.n.Load() != int64(2*b.N) {
				b.Fatalf("%d spans for %d messages", proc.n.Load(), b.N)
			}
		})
	}
}
