package sockets_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// BenchmarkPubSub measures PUB → SUB in one process, b.N messages of 128
// bytes, on the send hot path (dropping mode): each SUB holds topics
// subscriptions ("all" is the one subscription ""), and every message
// matches one of them, the middle one in byte order. subs SUBs receive every message (over inproc,
// each gets frames of its own). The PUB keeps at most a window of messages
// in flight, well under the HWMs, so that nothing is dropped. cpu-ns/op is
// the CPU time of the whole process per message.
func BenchmarkPubSub(b *testing.B) {
	for _, tr := range []string{"inproc", "tcp"} {
		for _, c := range []struct {
			topics string
			subs   int
		}{{"all", 1}, {"1", 1}, {"10", 1}, {"1", 2}} {
			b.Run(fmt.Sprintf("%s/topics=%s/subs=%d", tr, c.topics, c.subs), func(b *testing.B) {
				benchPubSub(b, tr, c.topics, c.subs)
			})
		}
	}
}

func benchPubSub(b *testing.B, tr, topics string, nsubs int) {
	const size, window = 128, 500
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pub, err := sockets.NewPub()
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	ep := "tcp://127.0.0.1:0"
	if tr == "inproc" {
		ep = fmt.Sprintf("inproc://bench-pubsub-%s-%s-%d-%d", b.Name(), topics, nsubs, b.N)
	}
	addr, err := pub.Listen(ep)
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	var subs []*sockets.Socket
	for range nsubs {
		sub, err := sockets.NewSub()
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		switch topics {
		case "all":
			err = sub.Subscribe("")
		default:
			var k int
			fmt.Sscan(topics, &k)
			for i := k - 1; i >= 0 && err == nil; i-- {
				err = sub.Subscribe(fmt.Sprintf("topic-%02d.", i))
			}
			copy(payload, fmt.Sprintf("topic-%02d.", k/2))
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := sub.Dial(addr); err != nil {
			b.Fatal(err)
		}
		subs = append(subs, sub)
	}
	// Settle: every SUB's subscriptions are in effect.
	for _, sub := range subs {
		for {
			if err := pub.Send(ctx, payload); err != nil {
				b.Fatal(err)
			}
			rctx, c := context.WithTimeout(ctx, 20*time.Millisecond)
			_, err := sub.Recv(rctx)
			c()
			if err == nil {
				break
			}
		}
	}
	for _, sub := range subs { // what the settling left queued
		for {
			rctx, c := context.WithTimeout(ctx, 20*time.Millisecond)
			_, err := sub.Recv(rctx)
			c()
			if err != nil {
				break
			}
		}
	}
	dropped := pub.Stats().Dropped
	var slowest atomic.Int64 // messages received by the slowest SUB
	got := make([]atomic.Int64, nsubs)
	more := make(chan struct{}, 1)
	errs := make(chan error, nsubs)
	b.SetBytes(size)
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	for i, sub := range subs {
		go func() {
			for n := 1; n <= b.N; n++ {
				m, err := sub.Recv(ctx)
				if err != nil {
					errs <- err
					return
				}
				if len(m[0]) != size {
					errs <- fmt.Errorf("got %d bytes", len(m[0]))
					return
				}
				if n%64 == 0 || n == b.N {
					got[i].Store(int64(n))
					low := int64(n)
					for j := range got {
						low = min(low, got[j].Load())
					}
					if low > slowest.Load() {
						slowest.Store(low)
						select {
						case more <- struct{}{}:
						default:
						}
					}
				}
			}
			errs <- nil
		}()
	}
	for i := 0; i < b.N; i++ {
		for int64(i)-slowest.Load() >= window {
			select {
			case <-more:
			case <-ctx.Done():
				b.Fatal("subscribers stalled")
			}
		}
		if err := pub.Send(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
	for range subs {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if cpu1, ok := processCPU(); ok && cpuOK {
		// The CPU both sides used, which other processes on the machine
		// disturb less than the elapsed time.
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
	if d := pub.Stats().Dropped - dropped; d != 0 {
		b.Fatalf("%d messages dropped", d)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
