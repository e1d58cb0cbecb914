package majordomo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/sockets"
)

// BenchmarkRoundTrip compares one request and its reply through the
// broker (client → broker → worker → broker → client) with the same
// exchange on a direct REQ/REP pair, over tcp on 127.0.0.1 and inproc,
// 128-byte bodies. ns/op is one round trip.
func BenchmarkRoundTrip(b *testing.B) {
	body := make([]byte, 128)
	for _, tr := range []string{"tcp", "inproc"} {
		ep := "tcp://127.0.0.1:0"
		if tr == "inproc" {
			ep = "inproc://bench-mdp-" + b.Name()
		}
		b.Run("direct-reqrep/"+tr, func(b *testing.B) { benchDirect(b, ep, body) })
		b.Run("majordomo-client/"+tr, func(b *testing.B) { benchBroker(b, ep, body, false) })
		b.Run("majordomo-rawreq/"+tr, func(b *testing.B) { benchBroker(b, ep, body, true) })
	}
}

func benchDirect(b *testing.B, ep string, body []byte) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := sockets.NewRep(sockets.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer rep.Close()
	if strings.HasPrefix(ep, "inproc://") {
		ep += "-direct" // not the broker's name
	}
	addr, err := rep.Listen(ep)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := rep.RecvMsg(ctx)
			if err != nil {
				return
			}
			if rep.SendMsg(ctx, m) != nil {
				return
			}
		}
	}()
	req, err := sockets.NewReq(sockets.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer req.Close()
	if err := req.Dial(addr); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := req.Send(ctx, body); err != nil {
			b.Fatal(err)
		}
		if _, err := req.RecvMsg(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	rep.Close()
	<-done
}

func benchBroker(b *testing.B, ep string, body []byte, raw bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	br, err := majordomo.NewBroker()
	if err != nil {
		b.Fatal(err)
	}
	addr, err := br.Bind(ep)
	if err != nil {
		b.Fatal(err)
	}
	brDone := make(chan struct{})
	go func() { defer close(brDone); br.Run(ctx) }()
	w, err := majordomo.NewWorker(addr, "echo", func(_ context.Context, req [][]byte) ([][]byte, error) {
		return req, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	wDone := make(chan struct{})
	go func() { defer close(wDone); w.Run(ctx) }()

	c, err := majordomo.NewClient(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// Wait for the worker: the first request queues until it registers.
	if _, err := c.Send(ctx, "echo", body); err != nil {
		b.Fatal(err)
	}
	req, err := sockets.NewReq(sockets.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer req.Close()
	if err := req.Dial(addr); err != nil {
		b.Fatal(err)
	}
	svc := []byte("echo")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if raw {
			if err := req.Send(ctx, []byte(majordomo.ClientHeader), svc, body); err != nil {
				b.Fatal(err)
			}
			if _, err := req.RecvMsg(ctx); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if _, err := c.Send(ctx, "echo", body); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	<-wDone
	<-brDone
}
