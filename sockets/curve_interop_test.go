//go:build interop

package sockets_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/sockets"
)

// CURVE against libzmq 4.3 (pyzmq), each side as server and as client,
// with small, empty, multipart and large frames both ways.

func pyCurveServerOpts(k sockets.CurveKeypair) map[string]any {
	return map[string]any{"CURVE_SERVER": 1, "CURVE_SECRETKEY": hexs(sockets.CurveKey(k.Secret))}
}

func pyCurveClientOpts(server [32]byte, k sockets.CurveKeypair) map[string]any {
	return map[string]any{
		"CURVE_SERVERKEY": hexs(sockets.CurveKey(server)),
		"CURVE_PUBLICKEY": hexs(sockets.CurveKey(k.Public)),
		"CURVE_SECRETKEY": hexs(sockets.CurveKey(k.Secret)),
	}
}

var curveInteropMsgs = [][][]byte{
	iopMsg("hello"),
	iopMsg(""),
	iopMsg("multi", "", "part"),
	{bytes.Repeat([]byte("L"), 40<<10)},
}

// Our REQ (client) through libzmq's REP (server, echoing with a prefix),
// then libzmq's REQ (client) through our REP (server).
func TestInteropCurveReqRep(t *testing.T) {
	srv, cli := curveKeys(t), curveKeys(t)
	t.Run("libzmq server", func(t *testing.T) {
		py := iopStartPeer(t, iopSpec{
			Type: "REP", Bind: "tcp://127.0.0.1:*", Opts: pyCurveServerOpts(srv),
			Steps: []iopStep{iopEcho(len(curveInteropMsgs), []byte("re"))},
		})
		req := iopSocket(t, sockets.Req, sockets.WithCurve(srv.Public, cli))
		require.NoError(t, req.Dial(py.endpoint()))
		for _, m := range curveInteropMsgs {
			require.NoError(t, req.Send(iopCtx(t), m...))
			got, err := req.Recv(iopCtx(t))
			require.NoError(t, err)
			assert.Equal(t, iopShow(append(iopMsg("re"), m...)), iopShow(got))
		}
		py.finish()
	})
	t.Run("libzmq client", func(t *testing.T) {
		rep := iopSocket(t, sockets.Rep, sockets.WithCurveServer(srv, func(k [32]byte) bool { return k == cli.Public }))
		addr, err := rep.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		var steps []iopStep
		for _, m := range curveInteropMsgs {
			steps = append(steps, iopSend(m), iopRecv(1))
		}
		py := iopStartPeer(t, iopSpec{Type: "REQ", Connect: []string{addr}, Opts: pyCurveClientOpts(srv.Public, cli), Steps: steps})
		for _, m := range curveInteropMsgs {
			got, from, err := rep.RecvFrom(iopCtx(t))
			require.NoError(t, err)
			assert.Equal(t, iopShow(m), iopShow(got))
			assert.Equal(t, sockets.CurveKey(cli.Public), from.UserID, "libzmq's client is known by its key")
			assert.Equal(t, sockets.Req, from.Type)
			require.NoError(t, rep.Send(iopCtx(t), append(iopMsg("ok"), got...)...))
			assert.Equal(t, iopShow(append(iopMsg("ok"), m...)), iopShow(py.nextRecv()))
		}
		py.finish()
	})
}

// Over ipc too, with libzmq's heartbeats (sealed PINGs) on an idle link.
func TestInteropCurvePushPullIPCHeartbeats(t *testing.T) {
	srv, cli := curveKeys(t), curveKeys(t)
	pull := iopSocket(t, sockets.Pull, sockets.WithCurveServer(srv, nil),
		sockets.WithHeartbeat(50*time.Millisecond, 500*time.Millisecond, 0))
	addr, err := pull.Listen("ipc://" + t.TempDir() + "/curve")
	require.NoError(t, err)
	opts := pyCurveClientOpts(srv.Public, cli)
	opts["HEARTBEAT_IVL"] = 50
	opts["HEARTBEAT_TIMEOUT"] = 500
	py := iopStartPeer(t, iopSpec{Type: "PUSH", Connect: []string{addr}, Opts: opts, Steps: []iopStep{
		iopSend(iopMsg("before")), iopSleep(800 * time.Millisecond), iopSend(iopMsg("after")),
	}})
	for _, want := range []string{"before", "after"} {
		got, err := pull.Recv(iopCtx(t))
		require.NoError(t, err)
		assert.Equal(t, want, string(got[0]))
	}
	py.finish()
	assert.EqualValues(t, 1, pull.Stats().Connects, "one connection throughout")
}

func TestInteropCurveRefusals(t *testing.T) {
	srv, cli, stranger := curveKeys(t), curveKeys(t), curveKeys(t)
	t.Run("our server refuses a libzmq client", func(t *testing.T) {
		pull := iopSocket(t, sockets.Pull, sockets.WithCurveServer(srv, func(k [32]byte) bool { return k == cli.Public }))
		addr, err := pull.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		opts := pyCurveClientOpts(srv.Public, stranger)
		opts["LINGER"] = 0
		py := iopStartPeer(t, iopSpec{Type: "PUSH", Connect: []string{addr}, Opts: opts, Monitor: true,
			Steps: []iopStep{iopSleep(500 * time.Millisecond)}})
		ev := awaitEvent(t, pull, sockets.EventHandshakeFailed)
		assert.ErrorIs(t, ev.Err, sockets.ErrAuth)
		events := iopMonitorEvents(t, py.finish())
		assert.True(t, hasHandshakeFailure(events), "%v", events)
		assert.Zero(t, pull.Stats().Connects)
	})
	t.Run("libzmq server and a client with the wrong server key", func(t *testing.T) {
		py := iopStartPeer(t, iopSpec{Type: "PULL", Bind: "tcp://127.0.0.1:*", Opts: pyCurveServerOpts(srv), Monitor: true,
			Steps: []iopStep{iopSleep(500 * time.Millisecond)}})
		push := iopSocket(t, sockets.Push, sockets.WithCurve(stranger.Public, cli), sockets.WithLinger(0),
			sockets.WithReconnect(time.Second, time.Second))
		require.NoError(t, push.Dial(py.endpoint()))
		ev := awaitEvent(t, push, sockets.EventHandshakeFailed)
		t.Logf("our client's reason: %v", ev.Err)
		assert.ErrorIs(t, ev.Err, sockets.ErrHandshake)
		events := iopMonitorEvents(t, py.finish())
		assert.True(t, hasHandshakeFailure(events), "%v", events)
	})
}

// libzmq reads our application metadata with zmq_msg_gets, over CURVE.
// (Its "User-Id" comes from a ZAP handler, which this peer does not run.)
func TestInteropMetadata(t *testing.T) {
	srv, cli := curveKeys(t), curveKeys(t)
	py := iopStartPeer(t, iopSpec{
		Type: "PULL", Bind: "tcp://127.0.0.1:*", Opts: pyCurveServerOpts(srv),
		Steps: []iopStep{{"op": "recv_props", "names": []string{"X-Service", "Socket-Type"}}},
	})
	push := iopSocket(t, sockets.Push, sockets.WithCurve(srv.Public, cli), sockets.WithMetadata("X-Service", "billing"))
	require.NoError(t, push.Dial(py.endpoint()))
	require.NoError(t, push.Send(iopCtx(t), []byte("m")))
	l := py.next()
	require.Equal(t, "recv", l.Ev, l.raw)
	str := func(p *string) string {
		if p == nil {
			return "<none>"
		}
		return *p
	}
	assert.Equal(t, "billing", str(l.Props["X-Service"]), l.raw)
	assert.Equal(t, "PUSH", str(l.Props["Socket-Type"]), l.raw)
	py.finish()
}
