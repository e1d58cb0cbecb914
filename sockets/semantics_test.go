package sockets_test

// Contracts every socket keeps (DESIGN.md) and RFC 31 (PAIR): Close and
// context cancellation end blocked calls, endpoints (several Listens,
// Unbind, Disconnect, bad ones, ports in use), operations a type lacks,
// Dial before Listen.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// A PAIR has one peer: a second one is refused (EventRejected on the PAIR
// that refuses), again on every attempt, and the first keeps working.
func TestSemPairSecondPeerRefused(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			a := semNew(t, sockets.Pair)
			addr := semListen(t, a, tr)
			b := semNew(t, sockets.Pair)
			require.NoError(t, b.Dial(addr))
			semWaitEvents(t, a, sockets.EventConnected, 1, 5*time.Second)

			c := semNew(t, sockets.Pair)
			require.NoError(t, c.Dial(addr))
			semWaitEvents(t, a, sockets.EventRejected, 1, 5*time.Second)
			assert.EqualValues(t, 1, a.Stats().Peers)
			assert.GreaterOrEqual(t, a.Stats().Rejected, uint64(1))

			for i := 0; i < 3; i++ {
				require.NoError(t, a.Send(ctx, []byte(fmt.Sprint("a", i))))
				assert.Equal(t, []string{fmt.Sprint("a", i)}, semS(semRecv(t, ctx, b)))
				require.NoError(t, b.Send(ctx, []byte(fmt.Sprint("b", i))))
				assert.Equal(t, []string{fmt.Sprint("b", i)}, semS(semRecv(t, ctx, a)))
			}
			semNoMsg(t, c, 20*time.Millisecond)
		})
	}
}

// semBlockCase builds a socket with one call that must block: on an empty
// socket, with no peer, or with the peer's queue full.
type semBlockCase struct {
	name string
	make func(t *testing.T) (*sockets.Socket, func(ctx context.Context) error)
}

func semRecvOp(s *sockets.Socket) func(ctx context.Context) error {
	return func(ctx context.Context) error { _, err := s.Recv(ctx); return err }
}

func semSendOp(s *sockets.Socket, frames ...string) func(ctx context.Context) error {
	return func(ctx context.Context) error { return s.Send(ctx, semF(frames...)...) }
}

var semBlockCases = []semBlockCase{
	{"pull-recv-empty", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Pull)
		semListen(t, s, "tcp")
		return s, semRecvOp(s)
	}},
	{"push-send-no-peer", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Push)
		return s, semSendOp(s, "x")
	}},
	{"push-send-hwm-never-connected", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Push, sockets.WithSendHWM(2), sockets.WithLinger(0))
		require.NoError(t, s.Dial(semEndpoint(t, "inproc"))) // nobody listens there
		ctx := semCtx(t, 5*time.Second)
		require.NoError(t, s.Send(ctx, []byte("1")))
		require.NoError(t, s.Send(ctx, []byte("2")))
		return s, semSendOp(s, "3")
	}},
	{"push-send-hwm-peer-not-reading", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		// The inproc queue holds the PUSH's send HWM plus the PULL's
		// receive HWM: 3 + 1.
		pull := semNew(t, sockets.Pull, sockets.WithRecvHWM(1))
		addr := semListen(t, pull, "inproc")
		s := semNew(t, sockets.Push, sockets.WithSendHWM(3), sockets.WithLinger(0))
		require.NoError(t, s.Dial(addr))
		semWaitEvents(t, s, sockets.EventConnected, 1, 5*time.Second)
		ctx := semCtx(t, 5*time.Second)
		for i := 0; i < 4; i++ {
			require.NoError(t, s.Send(ctx, []byte("x")))
		}
		return s, semSendOp(s, "4")
	}},
	{"push-send-hwm-tcp-peer-not-reading", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		pull := semNew(t, sockets.Pull, sockets.WithRecvHWM(1))
		addr := semListen(t, pull, "tcp")
		s := semNew(t, sockets.Push, sockets.WithSendHWM(1), sockets.WithLinger(0))
		require.NoError(t, s.Dial(addr))
		semWaitEvents(t, s, sockets.EventConnected, 1, 5*time.Second)
		// Fill the queues and the kernel's buffers until a Send must wait.
		big := make([]byte, 256<<10)
		for i := 0; ; i++ {
			require.Less(t, i, 2000, "a PUSH to a peer that never reads never filled up")
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			err := s.Send(ctx, big)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			require.NoError(t, err)
		}
		return s, func(ctx context.Context) error { return s.Send(ctx, big) }
	}},
	{"dealer-send-no-peer", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Dealer)
		return s, semSendOp(s, "x")
	}},
	{"dealer-recv", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Dealer)
		return s, semRecvOp(s)
	}},
	{"pair-send-no-peer", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Pair)
		return s, semSendOp(s, "x")
	}},
	{"pair-recv", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Pair)
		return s, semRecvOp(s)
	}},
	{"req-send-no-peer", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Req)
		return s, semSendOp(s, "x")
	}},
	{"req-recv-no-reply", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		rep := semNew(t, sockets.Rep) // never answers
		s := semNew(t, sockets.Req)
		require.NoError(t, s.Dial(semListen(t, rep, "inproc")))
		require.NoError(t, s.Send(semCtx(t, 5*time.Second), []byte("q")))
		return s, semRecvOp(s)
	}},
	{"rep-recv", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Rep)
		return s, semRecvOp(s)
	}},
	{"router-recv", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Router)
		return s, semRecvOp(s)
	}},
	{"router-mandatory-send-peer-full", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		// The inproc queue holds the ROUTER's send HWM plus the DEALER's
		// receive HWM: 1 + 1.
		s := semNew(t, sockets.Router, sockets.WithRouterMandatory(true), sockets.WithSendHWM(1))
		addr := semListen(t, s, "inproc")
		d := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte("d")), sockets.WithRecvHWM(1))
		require.NoError(t, d.Dial(addr))
		semWaitEvents(t, s, sockets.EventConnected, 1, 5*time.Second)
		require.NoError(t, s.Send(semCtx(t, 5*time.Second), []byte("d"), []byte("1")))
		require.NoError(t, s.Send(semCtx(t, 5*time.Second), []byte("d"), []byte("1b")))
		return s, semSendOp(s, "d", "2")
	}},
	{"sub-recv", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.Sub, sockets.WithSubscribe(""))
		return s, semRecvOp(s)
	}},
	{"xsub-recv", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.XSub)
		return s, semRecvOp(s)
	}},
	{"xpub-recv", func(t *testing.T) (*sockets.Socket, func(context.Context) error) {
		s := semNew(t, sockets.XPub)
		return s, semRecvOp(s)
	}},
}

// A blocked call returns ctx.Err() when its context ends, and an error
// wrapping ErrClosed when the socket is closed under it; every later call
// returns ErrClosed too, and Close is idempotent.
func TestSemBlockedCallsEnd(t *testing.T) {
	for _, c := range semBlockCases {
		t.Run(c.name, func(t *testing.T) {
			t.Run("cancel", func(t *testing.T) {
				s, op := c.make(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				res := semStartBlocked(t, func() error { return op(ctx) })
				cancel()
				err := semResult(t, res, 5*time.Second)
				require.ErrorIs(t, err, context.Canceled)
				// A deadline ends it the same way.
				dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer dcancel()
				require.ErrorIs(t, op(dctx), context.DeadlineExceeded)
				require.NoError(t, s.Close())
			})
			t.Run("close", func(t *testing.T) {
				s, op := c.make(t)
				ctx := semCtx(t, 30*time.Second)
				res := semStartBlocked(t, func() error { return op(ctx) })
				closed := make(chan error, 1)
				go func() { closed <- s.Close() }()
				semIsClosed(t, semResult(t, res, 5*time.Second), "the blocked call")
				require.NoError(t, semResult(t, closed, 5*time.Second))
				require.NoError(t, s.Close(), "second Close")
				semIsClosed(t, op(ctx), "the same call after Close")
			})
		})
	}
}

// After Close, every Send and Recv a type supports returns ErrClosed, and
// so do Listen, Dial and Subscribe; Close is idempotent and closes the
// monitor channel.
func TestSemAfterClose(t *testing.T) {
	types := []struct {
		typ        sockets.Type
		send, recv bool
		msg        []string
	}{
		{sockets.Push, true, false, []string{"x"}},
		{sockets.Pull, false, true, nil},
		{sockets.Pub, true, false, []string{"x"}},
		{sockets.Sub, false, true, nil},
		{sockets.XPub, true, true, []string{"x"}},
		{sockets.XSub, true, true, []string{"\x01x"}},
		{sockets.Req, true, true, []string{"x"}},
		{sockets.Rep, true, true, []string{"x"}},
		{sockets.Dealer, true, true, []string{"x"}},
		{sockets.Router, true, true, []string{"id", "x"}},
		{sockets.Pair, true, true, []string{"x"}},
	}
	for _, c := range types {
		t.Run(string(c.typ), func(t *testing.T) {
			ctx := semCtx(t, 5*time.Second)
			s, err := sockets.New(c.typ)
			require.NoError(t, err)
			semListen(t, s, "tcp")
			require.NoError(t, s.Close())
			require.NoError(t, s.Close())
			require.NoError(t, s.Close())
			if c.send {
				semIsClosed(t, s.Send(ctx, semF(c.msg...)...), "Send")
			}
			if c.recv {
				_, err := s.Recv(ctx)
				semIsClosed(t, err, "Recv")
			}
			_, err = s.Listen("tcp://127.0.0.1:0")
			semIsClosed(t, err, "Listen")
			semIsClosed(t, s.Dial("tcp://127.0.0.1:1"), "Dial")
			if c.typ == sockets.Sub || c.typ == sockets.XSub {
				semIsClosed(t, s.Subscribe("a"), "Subscribe")
				semIsClosed(t, s.Unsubscribe("a"), "Unsubscribe")
			}
			timer := time.NewTimer(5 * time.Second)
			defer timer.Stop()
			for done := false; !done; {
				select {
				case _, ok := <-s.Events():
					done = !ok
				case <-timer.C:
					t.Fatal("Events() not closed after Close")
				}
			}
		})
	}
	// REQ and REP in the middle of an exchange.
	t.Run("req-rep-mid-exchange", func(t *testing.T) {
		ctx := semCtx(t, 5*time.Second)
		rep := semNew(t, sockets.Rep)
		req := semNew(t, sockets.Req)
		require.NoError(t, req.Dial(semListen(t, rep, "inproc")))
		require.NoError(t, req.Send(ctx, []byte("q")))
		semRecv(t, ctx, rep)
		require.NoError(t, rep.Close())
		semIsClosed(t, rep.Send(ctx, []byte("a")), "REP Send owing a reply")
		require.NoError(t, req.Close())
		semIsClosed(t, req.Send(ctx, []byte("q2")), "REQ Send awaiting a reply")
	})
}

// Operations a socket type lacks fail with ErrNotSupported.
func TestSemNotSupported(t *testing.T) {
	ctx := semCtx(t, 5*time.Second)
	recvless := []sockets.Type{sockets.Pub, sockets.Push}
	for _, typ := range recvless {
		s := semNew(t, typ)
		_, err := s.Recv(ctx)
		assert.ErrorIs(t, err, sockets.ErrNotSupported, "Recv on %s", typ)
	}
	sendless := []sockets.Type{sockets.Sub, sockets.Pull}
	for _, typ := range sendless {
		s := semNew(t, typ)
		assert.ErrorIs(t, s.Send(ctx, []byte("x")), sockets.ErrNotSupported, "Send on %s", typ)
	}
	for _, typ := range []sockets.Type{sockets.Push, sockets.Pull, sockets.Pub, sockets.XPub, sockets.Req, sockets.Rep, sockets.Dealer, sockets.Router, sockets.Pair} {
		s := semNew(t, typ)
		assert.ErrorIs(t, s.Subscribe("a"), sockets.ErrNotSupported, "Subscribe on %s", typ)
		assert.ErrorIs(t, s.Unsubscribe("a"), sockets.ErrNotSupported, "Unsubscribe on %s", typ)
	}
}

func TestSemBadEndpoints(t *testing.T) {
	s := semNew(t, sockets.Push)
	for _, ep := range []string{
		"tcp://nohost", "foo://x", "tcp://*:5555", "", "tcp://", "nothing",
		"tcp://127.0.0.1:notaport", "tcp://127.0.0.1:99999", "tcp://:5555",
		"inproc://", "ipc://", "udp://127.0.0.1:5555",
	} {
		err := s.Dial(ep)
		assert.ErrorIs(t, err, sockets.ErrBadEndpoint, "Dial(%q) = %v", ep, err)
	}
	for _, ep := range []string{
		"tcp://nohost", "foo://x", "", "tcp://", "tcp://127.0.0.1:notaport",
		"tcp://127.0.0.1:99999", "inproc://", "ipc://",
	} {
		_, err := s.Listen(ep)
		assert.ErrorIs(t, err, sockets.ErrBadEndpoint, "Listen(%q) = %v", ep, err)
	}
	assert.ErrorIs(t, s.Unbind("tcp://127.0.0.1:1"), sockets.ErrBadEndpoint, "Unbind of an endpoint never bound")
	assert.ErrorIs(t, s.Disconnect("tcp://127.0.0.1:1"), sockets.ErrBadEndpoint, "Disconnect of an endpoint never dialled")
	require.NoError(t, s.Dial("tcp://127.0.0.1:1"))
	assert.ErrorIs(t, s.Dial("tcp://127.0.0.1:1"), sockets.ErrBadEndpoint, "Dial twice to one endpoint")
	assert.Zero(t, s.Stats().Connects)
}

func TestSemAddrInUse(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			a := semNew(t, sockets.Pull)
			addr := semListen(t, a, tr)
			b := semNew(t, sockets.Pull)
			_, err := b.Listen(addr)
			require.ErrorIs(t, err, sockets.ErrAddrInUse, "Listen(%q) on a second socket", addr)
			_, err = a.Listen(addr)
			require.ErrorIs(t, err, sockets.ErrAddrInUse, "Listen(%q) twice on one socket", addr)
			// Once unbound, it is free again.
			require.NoError(t, a.Unbind(addr))
			got, err := b.Listen(addr)
			require.NoError(t, err)
			assert.Equal(t, addr, got)
		})
	}
}

// One PULL listens on tcp, ipc and inproc at once. Unbind ends one endpoint
// (its peer is disconnected and cannot come back) without touching the
// others; listening there again lets the waiting peer deliver what it
// queued meanwhile.
func TestSemMultipleListenAndUnbind(t *testing.T) {
	ctx := semCtx(t, 15*time.Second)
	pull := semNew(t, sockets.Pull)
	addrs := map[string]string{}
	pushes := map[string]*sockets.Socket{}
	for _, tr := range semTransports {
		addrs[tr] = semListen(t, pull, tr)
		pushes[tr] = semNew(t, sockets.Push, sockets.WithReconnect(10*time.Millisecond, 0))
		require.NoError(t, pushes[tr].Dial(addrs[tr]))
	}
	semWaitEvents(t, pull, sockets.EventConnected, 3, 5*time.Second)
	collect := func(n int) map[string]int {
		got := map[string]int{}
		for i := 0; i < n; i++ {
			m := semRecv(t, ctx, pull)
			got[string(m[0])]++
		}
		semNoMsg(t, pull, 20*time.Millisecond)
		return got
	}
	for tr, p := range pushes {
		for i := 0; i < 5; i++ {
			require.NoError(t, p.Send(ctx, []byte(tr)))
		}
	}
	assert.Equal(t, map[string]int{"tcp": 5, "ipc": 5, "inproc": 5}, collect(15))

	require.NoError(t, pull.Unbind(addrs["tcp"]))
	assert.ErrorIs(t, pull.Unbind(addrs["tcp"]), sockets.ErrBadEndpoint, "second Unbind")
	semWaitEvents(t, pushes["tcp"], sockets.EventDisconnected, 1, 5*time.Second)
	before := pushes["tcp"].Stats().ConnectRetries
	semEventually(t, 5*time.Second, func() bool { return pushes["tcp"].Stats().ConnectRetries > before },
		"the tcp PUSH to fail reconnecting to an unbound endpoint")
	for tr, p := range pushes {
		require.NoError(t, p.Send(ctx, []byte(tr)))
	}
	assert.Equal(t, map[string]int{"ipc": 1, "inproc": 1}, collect(2), "only the bound endpoints deliver")

	require.NoError(t, pull.Unbind(addrs["inproc"]))
	require.NoError(t, pushes["ipc"].Send(ctx, []byte("ipc")))
	assert.Equal(t, map[string]int{"ipc": 1}, collect(1))

	// Bind the tcp endpoint again: the PUSH reconnects and delivers the
	// message it kept.
	got, err := pull.Listen(addrs["tcp"])
	require.NoError(t, err)
	require.Equal(t, addrs["tcp"], got)
	assert.Equal(t, map[string]int{"tcp": 1}, collect(1))
}

// Disconnect ends one connection made by Dial; messages sent afterwards go
// to the remaining peer only.
func TestSemDisconnect(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			// Linger 0: what pull1 leaves unread at the end would otherwise
			// keep Close trying to deliver it for the linger period.
			push := semNew(t, sockets.Push, sockets.WithLinger(0))
			pull1, pull2 := semNew(t, sockets.Pull), semNew(t, sockets.Pull)
			a1, a2 := semListen(t, pull1, tr), semListen(t, pull2, tr)
			require.NoError(t, push.Dial(a1))
			require.NoError(t, push.Dial(a2))
			semWaitEvents(t, push, sockets.EventConnected, 2, 5*time.Second)

			require.NoError(t, push.Disconnect(a1))
			assert.ErrorIs(t, push.Disconnect(a1), sockets.ErrBadEndpoint, "second Disconnect")
			for i := 0; i < 20; i++ {
				require.NoError(t, push.Send(ctx, []byte(fmt.Sprint(i))))
			}
			for i := 0; i < 20; i++ {
				assert.Equal(t, []string{fmt.Sprint(i)}, semS(semRecv(t, ctx, pull2)))
			}
			semNoMsg(t, pull1, 20*time.Millisecond)
			semEventually(t, 5*time.Second, func() bool { return push.Stats().Peers == 1 }, "the disconnected pipe to go")

			// Dial it again: round-robin over both once more.
			require.NoError(t, push.Dial(a1))
			semWaitEvents(t, push, sockets.EventConnected, 1, 5*time.Second)
			for i := 0; i < 4; i++ {
				require.NoError(t, push.Send(ctx, []byte("again")))
			}
			assert.Equal(t, []string{"again"}, semS(semRecv(t, ctx, pull1)))
			assert.Equal(t, []string{"again"}, semS(semRecv(t, ctx, pull2)))
		})
	}
}

// Dial is asynchronous: messages sent before anyone listens wait in the
// pipe and are delivered, in order, once the peer binds.
func TestSemDialBeforeListen(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			ep := semEndpoint(t, tr)
			if tr == "tcp" {
				// A port that was free a moment ago.
				l, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				ep = "tcp://" + l.Addr().String()
				require.NoError(t, l.Close())
			}
			push := semNew(t, sockets.Push, sockets.WithReconnect(10*time.Millisecond, 0))
			require.NoError(t, push.Dial(ep))
			for i := 0; i < 50; i++ {
				require.NoError(t, push.Send(ctx, []byte(fmt.Sprint(i))))
			}
			semEventually(t, 5*time.Second, func() bool { return push.Stats().ConnectRetries > 0 },
				"a failed connection attempt before the peer exists")

			pull := semNew(t, sockets.Pull)
			got, err := pull.Listen(ep)
			require.NoError(t, err)
			require.Equal(t, ep, got)
			for i := 0; i < 50; i++ {
				assert.Equal(t, []string{fmt.Sprint(i)}, semS(semRecv(t, ctx, pull)))
			}
			semNoMsg(t, pull, 20*time.Millisecond)
		})
	}
	// REQ too: the request waits for the REP.
	t.Run("req/inproc", func(t *testing.T) {
		ctx := semCtx(t, 10*time.Second)
		ep := semEndpoint(t, "inproc")
		req := semNew(t, sockets.Req, sockets.WithReconnect(10*time.Millisecond, 0))
		require.NoError(t, req.Dial(ep))
		require.NoError(t, req.Send(ctx, []byte("early")))
		rep := semNew(t, sockets.Rep)
		_, err := rep.Listen(ep)
		require.NoError(t, err)
		assert.Equal(t, []string{"early"}, semS(semRecv(t, ctx, rep)))
		require.NoError(t, rep.Send(ctx, []byte("late")))
		assert.Equal(t, []string{"late"}, semS(semRecv(t, ctx, req)))
	})
}
