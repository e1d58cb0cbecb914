package devices_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

// The device benchmarks run each message path twice, directly and through
// a device, in the same run: compare them as ratios.

func benchSock(b *testing.B, t sockets.Type) *sockets.Socket {
	s, err := sockets.New(t, sockets.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchListen(b *testing.B, s *sockets.Socket) string {
	addr, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return addr
}

func runDevice(b *testing.B, p *devices.Proxy, err error) {
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
}

// BenchmarkPipeline: PUSH → PULL, directly and through a Streamer.
func BenchmarkPipeline(b *testing.B) {
	for _, size := range []int{128, 1024} {
		for _, via := range []string{"direct", "streamer"} {
			b.Run(fmt.Sprintf("%s/%dB", via, size), func(b *testing.B) {
				push, pull := benchSock(b, sockets.Push), benchSock(b, sockets.Pull)
				if via == "direct" {
					if err := push.Dial(benchListen(b, pull)); err != nil {
						b.Fatal(err)
					}
				} else {
					front, back := benchSock(b, sockets.Pull), benchSock(b, sockets.Push)
					fa, ba := benchListen(b, front), benchListen(b, back)
					p, err := devices.NewStreamer(front, back, devices.WithDrain(0))
					runDevice(b, p, err)
					if err := push.Dial(fa); err != nil {
						b.Fatal(err)
					}
					if err := pull.Dial(ba); err != nil {
						b.Fatal(err)
					}
				}
				oneWay(b, push, pull, size)
			})
		}
	}
}

func oneWay(b *testing.B, push, pull *sockets.Socket, size int) {
	ctx := context.Background()
	if err := push.SendMsg(ctx, sockets.Msg{Head: make([]byte, size)}); err != nil {
		b.Fatal(err)
	}
	if _, err := pull.RecvMsg(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if err := push.SendMsg(ctx, sockets.Msg{Head: make([]byte, size)}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < b.N; i++ {
		if _, err := pull.RecvMsg(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRoundTrip: REQ ↔ REP, directly and through a Queue.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{128, 1024} {
		for _, via := range []string{"direct", "queue"} {
			b.Run(fmt.Sprintf("%s/%dB", via, size), func(b *testing.B) {
				req, rep := benchSock(b, sockets.Req), benchSock(b, sockets.Rep)
				if via == "direct" {
					if err := req.Dial(benchListen(b, rep)); err != nil {
						b.Fatal(err)
					}
				} else {
					front, back := benchSock(b, sockets.Router), benchSock(b, sockets.Dealer)
					fa, ba := benchListen(b, front), benchListen(b, back)
					p, err := devices.NewQueue(front, back, devices.WithDrain(0))
					runDevice(b, p, err)
					if err := req.Dial(fa); err != nil {
						b.Fatal(err)
					}
					if err := rep.Dial(ba); err != nil {
						b.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					for {
						m, err := rep.RecvMsg(ctx)
						if err != nil || rep.SendMsg(ctx, m) != nil {
							return
						}
					}
				}()
				defer func() { cancel(); <-done }()
				payload := make([]byte, size)
				call := func() {
					if err := req.SendMsg(ctx, sockets.Msg{Head: payload}); err != nil {
						b.Fatal(err)
					}
					if _, err := req.RecvMsg(ctx); err != nil {
						b.Fatal(err)
					}
				}
				call()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					call()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/trip")
			})
		}
	}
}
