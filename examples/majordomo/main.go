// Command majordomo is the Majordomo service broker (7/MDP) in one
// program: a broker, workers for two services, and a client that first asks
// the broker which services exist (8/MMI), then uses them. One "upper"
// worker is stopped while it holds a request; the request is served by the
// other one.
//
//	go run ./examples/majordomo
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/patterns/majordomo"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// A fast heartbeat so that the demo recovers in well under a second.
// Broker and workers must agree on it: the option is a BrokerWorkerOption,
// accepted by both.
var fastBeat = majordomo.WithHeartbeat(200*time.Millisecond, 3)

func run(ctx context.Context, out io.Writer) error {
	broker, err := majordomo.NewBroker(fastBeat)
	if err != nil {
		return err
	}
	ep, err := broker.Bind("tcp://127.0.0.1:0")
	if err != nil {
		broker.Close()
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Add(1)
	go func() { defer wg.Done(); broker.Run(ctx) }()

	start := func(service string, h majordomo.Handler) (context.CancelFunc, error) {
		w, err := majordomo.NewWorker(ep, service, h, fastBeat)
		if err != nil {
			return nil, err
		}
		n := broker.Stats().Workers
		wctx, cancel := context.WithCancel(ctx)
		wg.Add(1)
		go func() { defer wg.Done(); defer cancel(); w.Run(wctx) }()
		return cancel, waitFor(ctx, func() bool { return broker.Stats().Workers == n+1 })
	}
	if _, err := start("echo", func(_ context.Context, req [][]byte) ([][]byte, error) {
		return req, nil
	}); err != nil {
		return err
	}
	// upper-1 takes the first "upper" request (it registered first) and
	// hangs on it until it is stopped.
	holding := make(chan struct{}, 1)
	stopUpper1, err := start("upper", func(ctx context.Context, _ [][]byte) ([][]byte, error) {
		holding <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if err != nil {
		return err
	}
	if _, err := start("upper", func(_ context.Context, req [][]byte) ([][]byte, error) {
		return [][]byte{bytes.ToUpper(req[0]), []byte("by upper-2")}, nil
	}); err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-holding:
			stopUpper1()
		case <-ctx.Done():
		}
	}()

	client, err := majordomo.NewClient(ep, majordomo.WithRetry(2*time.Second, 3))
	if err != nil {
		return err
	}
	defer client.Close()
	for _, q := range [][2]string{
		{majordomo.MMIService, "echo"}, {majordomo.MMIService, "upper"},
		{majordomo.MMIService, "lower"}, {"mmi.workers", "upper"},
		{"echo", "hello"}, {"upper", "hello"}, {"upper", "again"},
	} {
		rep, err := client.Send(ctx, q[0], []byte(q[1]))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %q → %q\n", q[0], q[1], rep)
	}
	st := broker.Stats()
	fmt.Fprintf(out, "%d requests, %d answered by workers, %d by the broker; %d requeued; %d workers left\n",
		st.Requests, st.Replies, st.MMI, st.Requeued, st.Workers)
	return nil
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
