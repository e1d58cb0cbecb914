package sockets_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/sockets"
)

func curveKeys(t *testing.T) sockets.CurveKeypair {
	t.Helper()
	k, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	return k
}

func TestCurveCarriesEveryKindOfMessage(t *testing.T) {
	srv, cli := curveKeys(t), curveKeys(t)
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/curve"} {
		t.Run(ep[:3], func(t *testing.T) {
			pull, err := sockets.NewPull(sockets.WithCurveServer(srv, nil))
			require.NoError(t, err)
			defer pull.Close()
			addr, err := pull.Listen(ep)
			require.NoError(t, err)
			push, err := sockets.NewPush(sockets.WithCurve(srv.Public, cli))
			require.NoError(t, err)
			defer push.Close()
			require.NoError(t, push.Dial(addr))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			msgs := [][][]byte{
				{[]byte("hello")},
				{{}},
				{[]byte("multi"), {}, []byte("part")},
				{bytes.Repeat([]byte("z"), 1<<20)},
			}
			for _, m := range msgs {
				require.NoError(t, push.Send(ctx, m...))
			}
			for _, want := range msgs {
				got, err := pull.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, want, got)
			}
		})
	}
}

// Both directions are sealed, and heartbeats (commands, sealed too) keep an
// idle connection alive.
func TestCurveReqRepWithHeartbeats(t *testing.T) {
	srv, cli := curveKeys(t), curveKeys(t)
	hb := sockets.WithHeartbeat(20*time.Millisecond, 200*time.Millisecond, 0)
	rep, err := sockets.NewRep(sockets.WithCurveServer(srv, nil), hb)
	require.NoError(t, err)
	defer rep.Close()
	addr, err := rep.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	req, err := sockets.NewReq(sockets.WithCurve(srv.Public, cli), hb)
	require.NoError(t, err)
	defer req.Close()
	require.NoError(t, req.Dial(addr))
	go func() {
		for {
			m, err := rep.Recv(context.Background())
			if err != nil {
				return
			}
			_ = rep.Send(context.Background(), append([]byte("re:"), m[0]...))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, pause := range []time.Duration{0, 300 * time.Millisecond} {
		time.Sleep(pause) // longer than the heartbeat timeout
		require.NoError(t, req.Send(ctx, []byte{byte('a' + i)}))
		got, err := req.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, "re:"+string(rune('a'+i)), string(got[0]))
	}
	assert.Zero(t, req.Stats().Disconnects, "heartbeats kept the link")
}

func TestCurveAuthRefusesUnknownClients(t *testing.T) {
	srv, friend, stranger := curveKeys(t), curveKeys(t), curveKeys(t)
	pull, err := sockets.NewPull(sockets.WithCurveServer(srv, func(k [32]byte) bool { return k == friend.Public }))
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)

	bad, err := sockets.NewPush(sockets.WithCurve(srv.Public, stranger), sockets.WithLinger(0), sockets.WithReconnect(time.Second, time.Second))
	require.NoError(t, err)
	defer bad.Close()
	require.NoError(t, bad.Dial(addr))
	ev := awaitEvent(t, pull, sockets.EventHandshakeFailed)
	assert.ErrorIs(t, ev.Err, sockets.ErrAuth)
	ev = awaitEvent(t, bad, sockets.EventHandshakeFailed)
	assert.ErrorIs(t, ev.Err, sockets.ErrAuth, "%v", ev.Err)

	good, err := sockets.NewPush(sockets.WithCurve(srv.Public, friend))
	require.NoError(t, err)
	defer good.Close()
	require.NoError(t, good.Dial(addr))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, good.Send(ctx, []byte("friend")))
	got, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "friend", string(got[0]))
}

// A client that has the wrong server key, or no CURVE at all, gets no
// connection; nothing it sends arrives.
func TestCurveWrongServerKeyAndMechanism(t *testing.T) {
	srv, other, cli := curveKeys(t), curveKeys(t), curveKeys(t)
	pull, err := sockets.NewPull(sockets.WithCurveServer(srv, nil))
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	for name, opt := range map[string]sockets.Option{
		"wrong server key": sockets.WithCurve(other.Public, cli),
		"NULL client":      sockets.WithLinger(0),
		"PLAIN client":     sockets.WithPlain("u", "p"),
	} {
		t.Run(name, func(t *testing.T) {
			push, err := sockets.NewPush(opt, sockets.WithLinger(0), sockets.WithReconnect(time.Second, time.Second))
			require.NoError(t, err)
			defer push.Close()
			require.NoError(t, push.Dial(addr))
			ev := awaitEvent(t, pull, sockets.EventHandshakeFailed)
			assert.ErrorIs(t, ev.Err, sockets.ErrHandshake)
			t.Logf("server's reason: %v", ev.Err)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_ = push.Send(ctx, []byte("x"))
			_, err = pull.Recv(ctx)
			assert.True(t, errors.Is(err, context.DeadlineExceeded))
		})
	}
	assert.Zero(t, pull.Stats().Connects)
}

// Each connection has its own session: a reconnect runs a new handshake.
func TestCurveReconnects(t *testing.T) {
	srv, cli := curveKeys(t), curveKeys(t)
	reconnectThrough(t, sockets.WithCurveServer(srv, nil), sockets.WithCurve(srv.Public, cli))
}

func TestCurveKeys(t *testing.T) {
	k := curveKeys(t)
	s := sockets.CurveKey(k.Public)
	assert.Len(t, s, 40)
	back, err := sockets.ParseCurveKey(s)
	require.NoError(t, err)
	assert.Equal(t, k.Public, back)
	assert.Equal(t, k, sockets.CurveKeypairFromSecret(k.Secret))
	for _, bad := range []string{"", "short", s[:39], s[:39] + "\x7f"} {
		_, err := sockets.ParseCurveKey(bad)
		assert.ErrorIs(t, err, sockets.ErrBadOption, "%q", bad)
	}
	mismatched := sockets.CurveKeypair{Public: curveKeys(t).Public, Secret: k.Secret}
	_, err = sockets.NewPull(sockets.WithCurveServer(mismatched, nil))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	_, err = sockets.NewPush(sockets.WithCurve(k.Public, mismatched))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}
