package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

// The zmqkit sides of a two-process measurement. Every socket has the
// library's default options (HWMs of 1000, as libzmq) but a linger of 0:
// a side closes only once the receiver has reported every message, and
// what may then be queued is end marks for a peer that has left, which
// the default linger would wait 5 s on.

// sendType and recvType are the sockets at either end of a pattern; for a
// device pattern, the ends that talk to the device.
func sendType(pattern string) (sockets.Type, error) {
	switch pattern {
	case "pushpull", "streamer":
		return sockets.Push, nil
	case "pubsub", "forwarder":
		return sockets.Pub, nil
	case "dealerrouter", "queue":
		return sockets.Dealer, nil
	}
	return sockets.Type(""), fmt.Errorf("no sender for pattern %q", pattern)
}

func recvType(pattern string) (sockets.Type, error) {
	switch pattern {
	case "pushpull", "streamer":
		return sockets.Pull, nil
	case "pubsub", "forwarder":
		return sockets.Sub, nil
	case "dealerrouter":
		return sockets.Router, nil
	case "queue":
		return sockets.Dealer, nil
	}
	return sockets.Type(""), fmt.Errorf("no receiver for pattern %q", pattern)
}

// attach listens on s.Listen or dials s.Dial, and says where it listens.
func attach(sock *sockets.Socket, s spec, c *childIO) error {
	if s.Listen != "" {
		addr, err := sock.Listen(s.Listen)
		if err != nil {
			return err
		}
		c.say("listening " + addr)
		return nil
	}
	return sock.Dial(s.Dial)
}

func zmqSend(ctx context.Context, s spec, c *childIO) (childResult, error) {
	t, err := sendType(s.Pattern)
	if err != nil {
		return childResult{}, err
	}
	sock, err := sockets.New(t, sockets.WithLinger(0))
	if err != nil {
		return childResult{}, err
	}
	defer sock.Close()
	if err := attach(sock, s, c); err != nil {
		return childResult{}, err
	}
	return sendPhases(ctx, s, c, func(ctx context.Context, b []byte) error {
		return sock.SendMsg(ctx, sockets.Msg{Head: b})
	}, nil)
}

func zmqRecv(ctx context.Context, s spec, c *childIO) (childResult, error) {
	t, err := recvType(s.Pattern)
	if err != nil {
		return childResult{}, err
	}
	n := max(s.Subs, 1)
	var socks []*sockets.Socket
	defer func() {
		for _, so := range socks {
			so.Close()
		}
	}()
	for range n {
		opts := []sockets.Option{sockets.WithLinger(0)}
		if t == sockets.Sub {
			opts = append(opts, sockets.WithSubscribe(""))
		}
		so, err := sockets.New(t, opts...)
		if err != nil {
			return childResult{}, err
		}
		socks = append(socks, so)
		if err := attach(so, s, c); err != nil {
			return childResult{}, err
		}
	}
	// One goroutine per socket; "ready" once every one has seen a probe.
	ks := make([]*counter, n)
	var wg sync.WaitGroup
	var readyOnce sync.Once
	probed := make(chan struct{}, n)
	errs := make([]error, n)
	for i, so := range socks {
		ks[i] = &counter{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := ks[i]
			for {
				m, err := so.RecvMsg(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				wasProbed := k.probed
				if k.see(m.Frame(m.Len() - 1)) {
					return
				}
				if !wasProbed && k.probed {
					probed <- struct{}{}
				}
			}
		}()
	}
	go func() {
		for range n {
			select {
			case <-probed:
			case <-ctx.Done():
				return
			}
		}
		readyOnce.Do(func() { c.say("ready") })
	}()
	wg.Wait()
	res := sum(ks)
	return res, errors.Join(errs...)
}

// tripTypes are the socket types of a round-trip pattern's client and
// server: REQ and REP, or DEALER and ROUTER (the ROUTER's echo keeps the
// routing id frame, so it goes back to the DEALER that sent it).
func tripTypes(pattern string) (client, server sockets.Type) {
	if pattern == PatternDealerRouterTrips {
		return sockets.Dealer, sockets.Router
	}
	return sockets.Req, sockets.Rep
}

func zmqEcho(ctx context.Context, s spec, c *childIO) (childResult, error) {
	_, server := tripTypes(s.Pattern)
	rep, err := sockets.New(server, sockets.WithLinger(0))
	if err != nil {
		return childResult{}, err
	}
	defer rep.Close()
	if err := attach(rep, s, c); err != nil {
		return childResult{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = c.await(ctx, "stop"); cancel() }()
	var res childResult
	for {
		m, err := rep.RecvMsg(ctx)
		if err != nil {
			return res, nil // stopped
		}
		if err := rep.SendMsg(ctx, m); err != nil {
			return res, nil
		}
		res.Received++
	}
}

// warmTrips is the number of round trips before timing starts.
const warmTrips = 200

func zmqCall(ctx context.Context, s spec, c *childIO) (childResult, error) {
	client, _ := tripTypes(s.Pattern)
	req, err := sockets.New(client, sockets.WithLinger(0))
	if err != nil {
		return childResult{}, err
	}
	defer req.Close()
	if err := attach(req, s, c); err != nil {
		return childResult{}, err
	}
	return timeTrips(ctx, s, c, func(ctx context.Context, p []byte) ([]byte, error) {
		if err := req.SendMsg(ctx, sockets.Msg{Head: p}); err != nil {
			return nil, err
		}
		m, err := req.RecvMsg(ctx)
		if err != nil {
			return nil, err
		}
		return m.Frame(m.Len() - 1), nil
	})
}

// zmqDevice runs a streamer, forwarder or queue device until told to stop.
func zmqDevice(ctx context.Context, s spec, c *childIO) (childResult, error) {
	var ft, bt sockets.Type
	var mk func(front, back *sockets.Socket, opts ...devices.Option) (*devices.Proxy, error)
	switch s.Pattern {
	case "streamer":
		ft, bt, mk = sockets.Pull, sockets.Push, devices.NewStreamer
	case "forwarder":
		ft, bt, mk = sockets.XSub, sockets.XPub, devices.NewForwarder
	case "queue":
		ft, bt, mk = sockets.Router, sockets.Dealer, devices.NewQueue
	default:
		return childResult{}, fmt.Errorf("no device for pattern %q", s.Pattern)
	}
	front, err := sockets.New(ft, sockets.WithLinger(0))
	if err != nil {
		return childResult{}, err
	}
	defer front.Close()
	back, err := sockets.New(bt, sockets.WithLinger(0))
	if err != nil {
		return childResult{}, err
	}
	defer back.Close()
	fa, err := front.Listen(s.Listen)
	if err != nil {
		return childResult{}, err
	}
	ba, err := back.Listen(s.Listen2)
	if err != nil {
		return childResult{}, err
	}
	// The bench stops a device only once the receiver has everything: no
	// drain (a queue's would wait for replies a one-way run never sends).
	p, err := mk(front, back, devices.WithDrain(0))
	if err != nil {
		return childResult{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = c.await(ctx, "stop"); cancel() }()
	c.say(strings.Join([]string{"listening", fa, ba}, " "))
	if err := p.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return childResult{}, err
	}
	return childResult{}, nil
}
