package zmqwatermill_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"

	zmqwatermill "github.com/zmqkit/zmqkit/contrib/watermill"
)

// The benchmarks move b.N messages of 128 B from one sender to one
// receiver in the same process (sender and receiver share the CPU; not
// how services run), through the adapter (Publish → Subscribe, each
// message Acked before the next is delivered, as Watermill requires) and
// through raw zmqkit PUSH → PULL, over inproc and tcp loopback. They
// report msgs/s; compare the adapter with raw on the same transport:
//
//	cd contrib/watermill && go test -run '^$' -bench . -benchtime 200000x -count 3
const benchPayload = 128

func benchEndpoints() map[string]string {
	return map[string]string{"inproc": "inproc://zmqwatermill-bench", "tcp": "tcp://127.0.0.1:0"}
}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkRawPushPull(b *testing.B) {
	for _, tr := range []string{"inproc", "tcp"} {
		b.Run(tr, func(b *testing.B) {
			pull, err := sockets.NewPull()
			require.NoError(b, err)
			defer pull.Close()
			addr, err := pull.Listen(benchEndpoints()[tr])
			require.NoError(b, err)
			push, err := sockets.NewPush()
			require.NoError(b, err)
			defer push.Close()
			require.NoError(b, push.Dial(addr))
			ctx := context.Background()
			payload := make([]byte, benchPayload)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			errc := make(chan error, 1)
			go func() {
				for range b.N {
					// A fresh frame per message, as the adapter copies the
					// payload into one.
					if err := push.Send(ctx, append([]byte(nil), payload...)); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for range b.N {
				if _, err := pull.RecvMsg(ctx); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, start)
			require.NoError(b, <-errc)
		})
	}
}

func BenchmarkAdapter(b *testing.B) {
	for _, mode := range []zmqwatermill.Mode{zmqwatermill.Competing, zmqwatermill.FanOut} {
		for _, tr := range []string{"inproc", "tcp"} {
			b.Run(mode.String()+"/"+tr, func(b *testing.B) {
				var opts []sockets.Option
				if mode == zmqwatermill.FanOut {
					// Wait rather than drop at the high-water mark (and
					// NoDrop below), so that every message arrives.
					opts = append(opts, sockets.WithPubNoDrop(true))
				}
				pub, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{
					Mode: mode, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Bind(benchEndpoints()[tr])}, SocketOptions: opts,
				}, nil)
				require.NoError(b, err)
				defer pub.Close()
				sub, err := zmqwatermill.NewSubscriber(zmqwatermill.SubscriberConfig{
					Mode: mode, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(pub.Addrs()[0])}, RequireJoin: true, NoDrop: true,
				}, nil)
				require.NoError(b, err)
				defer sub.Close()
				ch, err := sub.Subscribe(context.Background(), "bench")
				require.NoError(b, err)
				msg := message.NewMessage("0f8fad5b-d9cb-469f-a165-70867728950e", make([]byte, benchPayload))
				msg.Metadata.Set("trace", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				errc := make(chan error, 1)
				go func() {
					for range b.N {
						if err := pub.Publish("bench", msg); err != nil {
							errc <- err
							return
						}
					}
					errc <- nil
				}()
				for range b.N {
					m := <-ch
					m.Ack()
				}
				reportRate(b, start)
				require.NoError(b, <-errc)
			})
		}
	}
}
