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

// A last-value cache between a publisher and its subscribers: a
// subscriber that connects to the cache gets the latest value at once.
// WithMaxTopics is a CacheSubscriberOption: a Cache and a Subscriber take
// it, a Publisher does not.
func ExampleCache() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	defer func() { stop(); <-done; <-done }()

	pub, _ := pubsub.NewPublisher(codec.String())
	defer pub.Close()
	upstream, _ := pub.Listen("inproc://example-cache-upstream")
	go func() { done <- pub.Run(runCtx) }()

	cache, _ := pubsub.NewCache(pubsub.WithMaxTopics(1000))
	defer cache.Close()
	downstream, _ := cache.Listen("inproc://example-cache-downstream")
	cache.DialUpstream(upstream)
	go func() { done <- cache.Run(runCtx) }()

	pub.Publish(ctx, "price.EURUSD", "1.09")
	for cache.Len() == 0 { // until the cache has it
		select {
		case <-ctx.Done():
			fmt.Println(ctx.Err())
			return
		case <-time.After(time.Millisecond):
		}
	}

	sub, _ := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe("price."))
	defer sub.Close()
	sub.Dial(downstream)
	u, err := sub.Recv(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Topic, u.Value, u.Stamp.Replay)
	// Output: price.EURUSD 1.09 true
}
