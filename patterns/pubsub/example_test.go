package pubsub_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pubsub"
)

// A replica joins after the values were published and ends with the
// publisher's state.
func ExampleReplica() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pub, _ := pubsub.NewPublisher(codec.JSON[float64]())
	defer pub.Close()
	updates, _ := pub.Listen("inproc://example-replica-updates")
	snapshots, _ := pub.ListenSnapshots("inproc://example-replica-snapshots")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	defer func() { stop(); <-done; <-done }()
	go func() { done <- pub.Run(runCtx) }()

	pub.Publish(ctx, "EURUSD", 1.08)
	pub.Publish(ctx, "GBPUSD", 1.27)
	pub.Publish(ctx, "EURUSD", 1.09)

	r, _ := pubsub.NewReplica(codec.JSON[float64]())
	defer r.Close()
	r.Dial(updates, snapshots)
	go func() { done <- r.Run(runCtx) }()
	if err := r.WaitFor(ctx, pub.Head()); err != nil {
		fmt.Println(err)
		return
	}
	state, at := r.State()
	fmt.Println(at.Seq, state["EURUSD"], state["GBPUSD"])
	// Output: 3 1.09 1.27
}

// A subscriber that joins late gets the latest value at once.
func ExamplePublisher() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pub, _ := pubsub.NewPublisher(codec.String())
	defer pub.Close()
	addr, _ := pub.Listen("inproc://example-publisher")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	defer func() { stop(); <-done }()
	go func() { done <- pub.Run(runCtx) }()

	pub.Publish(ctx, "status.db", "starting")
	pub.Publish(ctx, "status.db", "up")

	sub, _ := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe("status."))
	defer sub.Close()
	sub.Dial(addr)
	u, err := sub.Recv(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Topic, u.Value, u.Stamp.Replay)
	// Output: status.db up true
}
