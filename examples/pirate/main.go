// Command pirate is the guide's Paranoid Pirate in one program: a
// load-balancing broker, a pool of heartbeating workers and a client. One
// worker is killed while it holds a request; the broker notices, gives the
// request to another worker, and the client never sees the failure.
//
//	go run ./examples/pirate [-workers 3] [-requests 12]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/patterns/pirate"
)

func main() {
	workers := flag.Int("workers", 3, "worker count (at least 2)")
	requests := flag.Int("requests", 12, "request count (at least 2)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *workers, *requests); err != nil {
		log.Fatal(err)
	}
}

// A fast heartbeat so that the demo recovers in well under a second.
// Broker and workers must agree on it: the option is a BrokerWorkerOption,
// accepted by both.
var fastBeat = pirate.WithHeartbeat(200*time.Millisecond, 3)

func run(ctx context.Context, out io.Writer, nWorkers, nRequests int) error {
	if nWorkers < 2 || nRequests < 2 {
		return errors.New("need at least 2 workers and 2 requests")
	}
	broker, err := pirate.NewBroker(fastBeat)
	if err != nil {
		return err
	}
	front, err := broker.BindFrontend("tcp://127.0.0.1:0")
	if err != nil {
		broker.Close()
		return err
	}
	back, err := broker.BindBackend("tcp://127.0.0.1:0")
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

	// Worker 2 hangs on its first request, and is then killed: its Run
	// ends and its socket closes with the request unanswered.
	doomed := make(chan string, 1)
	var killDoomed context.CancelFunc
	for i := 1; i <= nWorkers; i++ {
		name := fmt.Sprintf("w%d", i)
		h := func(_ context.Context, req [][]byte) ([][]byte, error) {
			return [][]byte{[]byte(name)}, nil
		}
		if i == 2 {
			h = func(ctx context.Context, req [][]byte) ([][]byte, error) {
				doomed <- string(req[0])
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}
		w, err := pirate.NewWorker(back, h, fastBeat)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithCancel(ctx)
		if i == 2 {
			killDoomed = cancel
		}
		wg.Add(1)
		go func() { defer wg.Done(); defer cancel(); w.Run(wctx) }()
		// One at a time, so that the broker's least-recently-used queue
		// holds them in order.
		if err := waitFor(ctx, func() bool { return broker.Stats().Ready == i }); err != nil {
			return fmt.Errorf("worker %s never registered: %w", name, err)
		}
	}
	fmt.Fprintf(out, "%d workers ready\n", nWorkers)

	var mu sync.Mutex
	killed := ""
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case body := <-doomed:
			mu.Lock()
			killed = body
			mu.Unlock()
			killDoomed()
		case <-ctx.Done():
		}
	}()

	client, err := pirate.NewClient(front, pirate.WithRetry(2*time.Second, 3))
	if err != nil {
		return err
	}
	defer client.Close()
	for i := 1; i <= nRequests; i++ {
		body := fmt.Sprintf("request %2d", i)
		rep, err := client.Request(ctx, []byte(body))
		if err != nil {
			return err
		}
		note := ""
		mu.Lock()
		wasKilled := body == killed
		mu.Unlock()
		if wasKilled {
			note = fmt.Sprintf(" (w2 was killed holding it; the broker gave it to %s)", rep[0])
		}
		fmt.Fprintf(out, "%s → %s%s\n", body, rep[0], note)
	}
	st := broker.Stats()
	fmt.Fprintf(out, "%d requests answered; %d requeued; %d workers left\n", st.Replies, st.Requeued, st.Workers)
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
