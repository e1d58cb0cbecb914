package reliable_test

import (
	"context"
	"testing"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/reliable"
	"github.com/zmqkit/zmqkit/sockets"
)

// BenchmarkCall measures the round trip over tcp loopback of a plain typed
// REQ, a Lazy Pirate Client and a Freelance, against the same REP server:
// what the reliability costs when nothing fails.
func BenchmarkCall(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv, err := sockets.NewRepOf(codec.Bytes(), codec.Bytes(), sockets.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	addr, err := srv.Listen("tcp://127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, func(_ context.Context, q []byte) ([]byte, error) { return q, nil })
	}()
	defer func() { srv.Close(); <-done }()
	payload := make([]byte, 128)

	type caller interface {
		Call(context.Context, []byte) ([]byte, error)
		Close() error
	}
	for _, c := range []struct {
		name string
		make func() (caller, error)
	}{
		{"req", func() (caller, error) {
			r, err := sockets.NewReqOf(codec.Bytes(), codec.Bytes())
			if err == nil {
				err = r.Dial(addr)
			}
			return r, err
		}},
		{"client", func() (caller, error) { return reliable.NewClient(codec.Bytes(), codec.Bytes(), addr) }},
		{"freelance", func() (caller, error) {
			return reliable.NewFreelance(codec.Bytes(), codec.Bytes(), []string{addr})
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			cl, err := c.make()
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			if _, err := cl.Call(ctx, payload); err != nil { // connected
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := cl.Call(ctx, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
