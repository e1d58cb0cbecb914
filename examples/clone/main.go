// Command clone shows pub/sub with state (package patterns/pubsub): a price
// publisher that remembers the latest price of each symbol, a subscriber
// that joins late and gets the latest EUR prices at once (last-value cache),
// a replica that keeps a copy of every price through snapshots and sequence
// numbers (the guide's Clone), and a slow subscriber that notices it is
// falling behind and gives up rather than trade on stale prices (the
// guide's suicidal snail).
//
//	go run ./examples/clone [-flood 50000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pubsub"
	"github.com/zmqkit/zmqkit/sockets"
)

// Price is one quote.
type Price struct {
	Bid float64 `json:"bid"`
	Ask float64 `json:"ask"`
}

var symbols = []string{"EURUSD", "EURGBP", "GBPUSD", "USDJPY", "AUDUSD"}

func main() {
	flood := flag.Int("flood", 50000, "updates published in the burst")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *flood); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer, flood int) error {
	c := codec.JSON[Price]()
	pub, err := pubsub.NewPublisher(c, pubsub.WithHeartbeat(50*time.Millisecond))
	if err != nil {
		return err
	}
	defer pub.Close()
	updates, err := pub.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	snapshots, err := pub.ListenSnapshots("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	// Run serves replays, snapshots and heartbeats; everything that runs
	// stops with runCtx, and is waited for before returning.
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	goRun(&wg, runCtx, pub)

	// Prices published before anyone listens.
	rnd := rand.New(rand.NewPCG(1, 2))
	quote := func(i int) (string, Price) {
		s := symbols[i%len(symbols)]
		mid := 1 + rnd.Float64()
		return s, Price{Bid: mid - 0.0001, Ask: mid + 0.0001}
	}
	for i := range 3 * len(symbols) {
		s, p := quote(i)
		if _, err := pub.Publish(ctx, s, p); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "publisher: %d symbols, seq %d\n", pub.Stats().Topics, pub.Head().Seq)

	// 1. A late subscriber gets the latest EUR prices at once.
	late, err := pubsub.NewSubscriber(c, pubsub.WithSubscribe("EUR"))
	if err != nil {
		return err
	}
	defer late.Close()
	if err := late.Dial(updates); err != nil {
		return err
	}
	for range 2 {
		u, err := late.Recv(ctx)
		if err != nil {
			return err
		}
		want, _, _ := pub.Get(u.Topic)
		fmt.Fprintf(out, "late subscriber: %s %.4f/%.4f at once (replay: %v, latest: %v)\n",
			u.Topic, u.Value.Bid, u.Value.Ask, u.Stamp.Replay, u.Value == want)
	}

	// 2. A replica takes a snapshot and follows the updates.
	replica, err := pubsub.NewReplica(c)
	if err != nil {
		return err
	}
	defer replica.Close()
	if err := replica.Dial(updates, snapshots); err != nil {
		return err
	}
	goRun(&wg, runCtx, replica)
	if err := replica.WaitFor(ctx, pub.Head()); err != nil {
		return err
	}
	state, at := replica.State()
	fmt.Fprintf(out, "replica: synced at seq %d with %d symbols\n", at.Seq, len(state))

	// 3. A slow subscriber: each price takes it a millisecond to handle.
	snail, err := pubsub.NewSubscriber(c, pubsub.WithSubscribe(""),
		pubsub.WithMaxLag(100*time.Millisecond),
		pubsub.WithSocketOptions(sockets.WithRecvHWM(100)))
	if err != nil {
		return err
	}
	defer snail.Close()
	if err := snail.Dial(updates); err != nil {
		return err
	}
	verdict := make(chan string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		verdict <- snailLoop(runCtx, snail)
	}()

	// The burst.
	start := time.Now()
	for i := range flood {
		s, p := quote(i)
		if _, err := pub.Publish(ctx, s, p); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "burst: %d updates in %v\n", flood, time.Since(start).Round(time.Millisecond))

	select {
	case v := <-verdict:
		fmt.Fprintln(out, v)
	case <-ctx.Done():
		return ctx.Err()
	}

	if err := replica.WaitFor(ctx, pub.Head()); err != nil {
		return err
	}
	want, head := pub.State()
	got, at := replica.State()
	st := replica.Stats()
	fmt.Fprintf(out, "replica: seq %d of %d, state matches the publisher: %v (%d updates applied, %d snapshots, %d gaps repaired)\n",
		at.Seq, head.Seq, maps.Equal(want, got), st.Applied, st.Snapshots, st.Gaps)
	for _, s := range slices.Sorted(maps.Keys(got)) {
		fmt.Fprintf(out, "  %s %.4f/%.4f\n", s, got[s].Bid, got[s].Ask)
	}
	return nil
}

// snailLoop handles prices slowly until the subscriber reports that it fell
// behind or lost some, and says so: a trader that knows its prices are stale
// stops, rather than trading on them.
func snailLoop(ctx context.Context, sub *pubsub.Subscriber[Price]) string {
	n := 0
	for _, err := range sub.All(ctx) {
		var lag *pubsub.LagError
		switch {
		case errors.As(err, &lag):
			return fmt.Sprintf("snail: gives up after %d prices: %v", n, lag)
		case err != nil:
			return fmt.Sprintf("snail: %v", err)
		}
		n++
		select { // the slow part
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return "snail: stopped"
		}
	}
	return "snail: stopped"
}

// goRun runs r until ctx ends or r is closed, both normal ways to stop.
func goRun(wg *sync.WaitGroup, ctx context.Context, r interface{ Run(context.Context) error }) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, sockets.ErrClosed) {
			log.Printf("run: %v", err)
		}
	}()
}
