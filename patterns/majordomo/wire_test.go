package majordomo_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/sockets"
)

// The broker against a client and a worker written on raw sockets, every
// frame built from 7/MDP: a DEALER client (frame 0 explicit), a REQ client
// (frame 0 added by the socket), a DEALER worker.
func TestWireRawClientsRawWorker(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]
	w := newRawWorker(t, ep, "w1")
	w.ready("echo")
	defer w.beat()()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "raw worker registered")

	// The broker heartbeats an idle worker with exactly "" | MDPW01 | 0x04.
	m, err := w.s.Recv(testCtx(t, 2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, [][]byte{empty, mdpw, beat}, m)

	dealer := newSocket(t, sockets.Dealer, ep)
	ctx := testCtx(t, 5*time.Second)
	require.NoError(t, dealer.Send(ctx, empty, mdpc, []byte("echo"), []byte("a"), []byte("b")))
	client, body := w.request(ctx)
	assert.Equal(t, frames("a", "b"), body)
	w.reply(client, []byte("A"), []byte("B"))
	m, err = dealer.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{empty, mdpc, []byte("echo"), []byte("A"), []byte("B")}, m)

	req := newSocket(t, sockets.Req, ep)
	require.NoError(t, req.Send(ctx, mdpc, []byte("echo"), []byte("hello")))
	client2, body := w.request(ctx)
	assert.Equal(t, frames("hello"), body)
	assert.NotEqual(t, client, client2, "each client has its own address")
	w.reply(client2, []byte("world"))
	m, err = req.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{mdpc, []byte("echo"), []byte("world")}, m)

	st := b.Stats()
	assert.EqualValues(t, 2, st.Requests)
	assert.EqualValues(t, 2, st.Replies)
	assert.Zero(t, st.Malformed)
}

// Our Worker, seen from a raw client; our Client, seen from a raw worker.
func TestWireOurPeersAgainstRawPeers(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]
	startWorker(t, ep, "ours", func(_ context.Context, req [][]byte) ([][]byte, error) {
		return append([][]byte{[]byte("got")}, req...), nil
	})
	w := newRawWorker(t, ep, "raw")
	w.ready("raw")
	defer w.beat()()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 2 }, "workers registered")

	ctx := testCtx(t, 5*time.Second)
	req := newSocket(t, sockets.Req, ep)
	require.NoError(t, req.Send(ctx, mdpc, []byte("ours"), []byte("x"), []byte("y")))
	m, err := req.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{mdpc, []byte("ours"), []byte("got"), []byte("x"), []byte("y")}, m)

	c := newClient(t, ep)
	got := make(chan [][]byte, 1)
	go func() {
		rep, err := c.Send(ctx, "raw", []byte("p"), []byte("q"))
		assert.NoError(t, err)
		got <- rep
	}()
	client, body := w.request(ctx)
	assert.Equal(t, frames("p", "q"), body)
	w.reply(client, []byte("r"))
	assert.Equal(t, frames("r"), <-got)
}

// 8/MMI: mmi.service answers 200 while a worker is registered for the
// service and 404 otherwise; other mmi. services answer 501; a worker may
// not register in the mmi. namespace.
func TestMMI(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]
	ctx := testCtx(t, 10*time.Second)
	req := newSocket(t, sockets.Req, ep)
	ask := func(service string, body ...string) [][]byte {
		t.Helper()
		require.NoError(t, req.Send(ctx, append([][]byte{mdpc, []byte(service)}, frames(body...)...)...))
		m, err := req.Recv(ctx)
		require.NoError(t, err)
		return m
	}
	assert.Equal(t, frames("MDPC01", "mmi.service", "404"), ask("mmi.service", "echo"))

	w := startWorker(t, ep, "echo", echo("e"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "worker registered")
	assert.Equal(t, frames("MDPC01", "mmi.service", "200"), ask("mmi.service", "echo"))
	assert.Equal(t, frames("MDPC01", "mmi.service", "404"), ask("mmi.service", "other"))
	assert.Equal(t, frames("MDPC01", "mmi.nothing", "501"), ask("mmi.nothing", "echo"))

	c := newClient(t, ep)
	rep, err := c.Send(ctx, majordomo.MMIService, []byte("echo"))
	require.NoError(t, err)
	assert.Equal(t, frames(majordomo.MMIFound), rep)

	// The worker stops: it sends DISCONNECT, and the service is gone.
	require.ErrorIs(t, w.Stop(t), context.Canceled)
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 0 }, "worker gone")
	assert.Equal(t, frames("MDPC01", "mmi.service", "404"), ask("mmi.service", "echo"))

	raw := newRawWorker(t, ep, "sneaky")
	raw.ready("mmi.service")
	raw.expectDisconnect()
	assert.Equal(t, 0, b.Stats().Workers)
	assert.Equal(t, frames("MDPC01", "mmi.service", "404"), ask("mmi.service", "mmi.service"))
	assert.EqualValues(t, 7, b.Stats().MMI)

	_, err = majordomo.NewWorker(ep, "mmi.x", echo("x"))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}

// The broker's answers to commands out of place: DISCONNECT for a valid
// but unexpected command, dropping malformed messages.
func TestProtocolViolations(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]

	t.Run("heartbeat before READY", func(t *testing.T) {
		w := newRawWorker(t, ep, "early")
		w.send(empty, mdpw, beat)
		w.expectDisconnect()
	})
	t.Run("second READY", func(t *testing.T) {
		w := newRawWorker(t, ep, "twice")
		w.ready("s")
		eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "registered")
		w.ready("s")
		w.expectDisconnect()
		assert.Equal(t, 0, b.Stats().Workers)
	})
	t.Run("REPLY without a request", func(t *testing.T) {
		w := newRawWorker(t, ep, "eager")
		w.ready("s")
		eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "registered")
		w.reply([]byte("nobody"), []byte("x"))
		w.expectDisconnect()
		assert.Equal(t, 0, b.Stats().Workers)
	})
	t.Run("READY without service", func(t *testing.T) {
		w := newRawWorker(t, ep, "nameless")
		w.send(empty, mdpw, ready)
		w.expectDisconnect()
	})
	t.Run("malformed client messages", func(t *testing.T) {
		before := b.Stats().Malformed
		d := newSocket(t, sockets.Dealer, ep)
		ctx := testCtx(t, 2*time.Second)
		require.NoError(t, d.Send(ctx, mdpc, []byte("s"), []byte("no frame 0")))
		require.NoError(t, d.Send(ctx, empty, []byte("MDPC02"), []byte("s"), []byte("bad header")))
		require.NoError(t, d.Send(ctx, empty, mdpc, []byte("no body")))
		require.NoError(t, d.Send(ctx, empty, mdpw, []byte{0x09}))
		eventually(t, 2*time.Second, func() bool { return b.Stats().Malformed == before+4 }, "four malformed")
	})
	// The broker still serves after all that.
	startWorker(t, ep, "s", echo("s"))
	rep, err := newClient(t, ep).Send(testCtx(t, 5*time.Second), "s", []byte("ok"))
	require.NoError(t, err)
	assert.Equal(t, frames("s:ok"), rep)
}

// Requests go to a worker of their service, least recently used first; a
// request for a service with no worker waits for one.
func TestRoutingByService(t *testing.T) {
	ipc := "ipc://" + filepath.Join(t.TempDir(), "mdp.sock")
	inproc := fmt.Sprintf("inproc://mdp-%s", t.Name())
	b := startBroker(t, []string{"tcp://127.0.0.1:0", ipc, inproc})
	tcp := b.ep[0]
	startWorker(t, tcp, "upper", echo("u1"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "u1")
	startWorker(t, ipc, "upper", echo("u2"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 2 }, "u2")
	startWorker(t, inproc, "lower", echo("l1"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 3 }, "l1")

	ctx := testCtx(t, 10*time.Second)
	var got []string
	for i, ep := range []string{tcp, ipc, inproc} {
		c := newClient(t, ep)
		for _, svc := range []string{"upper", "lower"} {
			rep, err := c.Send(ctx, svc, []byte(fmt.Sprint(i)))
			require.NoError(t, err)
			got = append(got, string(rep[0]))
		}
	}
	assert.Equal(t, []string{"u1:0", "l1:0", "u2:1", "l1:1", "u1:2", "l1:2"}, got)

	c := newClient(t, tcp)
	res := make(chan string, 1)
	go func() {
		rep, err := c.Send(ctx, "late", []byte("q"))
		if err != nil {
			res <- err.Error()
			return
		}
		res <- string(rep[0])
	}()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Queued == 1 }, "request queued")
	startWorker(t, tcp, "late", echo("late"))
	assert.Equal(t, "late:q", <-res)
	assert.Equal(t, 3, b.Stats().Services)
}

// Our worker on the wire, against a broker written on a raw ROUTER: READY,
// HEARTBEAT, a REQUEST answered with REPLY, DISCONNECT obeyed by
// registering again on a new connection, and DISCONNECT sent on stop.
func TestWireOurWorkerAgainstRawBroker(t *testing.T) {
	router := newSocket(t, sockets.Router, "")
	ep, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	// A slow heartbeat: this raw broker sends none, and the worker must not
	// give up on it during the test.
	w := startWorker(t, ep, "svc", echo("w"), majordomo.WithHeartbeat(time.Second, 5))
	ctx := testCtx(t, 10*time.Second)
	recv := func() (id []byte, m [][]byte) {
		t.Helper()
		for {
			f, err := router.Recv(ctx)
			require.NoError(t, err)
			if len(f) == 4 && string(f[3]) == "\x04" {
				assert.Equal(t, [][]byte{empty, mdpw, beat}, f[1:])
				continue
			}
			return f[0], f[1:]
		}
	}
	id, m := recv()
	assert.Equal(t, [][]byte{empty, mdpw, ready, []byte("svc")}, m)

	require.NoError(t, router.Send(ctx, id, empty, mdpw, reqCmd, []byte("C1"), empty, []byte("hi")))
	id2, m := recv()
	assert.Equal(t, id, id2)
	assert.Equal(t, [][]byte{empty, mdpw, repCmd, []byte("C1"), empty, []byte("w:hi")}, m)

	require.NoError(t, router.Send(ctx, id, empty, mdpw, disc))
	id3, m := recv()
	assert.Equal(t, [][]byte{empty, mdpw, ready, []byte("svc")}, m, "registers again")
	assert.NotEqual(t, id, id3, "on a new socket")
	eventually(t, 2*time.Second, func() bool { return w.Stats().Disconnects == 1 }, "disconnect counted")

	require.ErrorIs(t, w.Stop(t), context.Canceled)
	id4, m := recv()
	assert.Equal(t, id3, id4)
	assert.Equal(t, [][]byte{empty, mdpw, disc}, m, "DISCONNECT on stop")
}

// Our client against a raw ROUTER answering with a wrong header.
func TestClientRejectsMalformedReply(t *testing.T) {
	router := newSocket(t, sockets.Router, "")
	ep, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	c := newClient(t, ep)
	ctx := testCtx(t, 5*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, "svc", []byte("x"))
		errc <- err
	}()
	m, err := router.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, [][]byte{empty, mdpc, []byte("svc"), []byte("x")}, m[1:], "client REQUEST on the wire")
	require.NoError(t, router.Send(ctx, m[0], empty, []byte("MDPC02"), []byte("svc"), []byte("y")))
	assert.ErrorIs(t, <-errc, majordomo.ErrProtocol)
}
