package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// A key dropped from a --…-curve-clients @file and SIGHUP: the client
// connected with it is disconnected (and refused when it comes back),
// while a client whose key stays keeps being served on its connection.
func TestDeviceSIGHUPDisconnectsRevokedClients(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	srv, a, b := curveKeys(t), curveKeys(t), curveKeys(t)
	dir := t.TempDir()
	clients := filepath.Join(dir, "clients")
	both := sockets.CurveKey(a.Public) + "\n" + sockets.CurveKey(b.Public) + "\n"
	require.NoError(t, os.WriteFile(clients, []byte(both), 0o600))
	d := startDevice(t, nil, "queue", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--frontend-curve-secret", sockets.CurveKey(srv.Secret), "--frontend-curve-clients", "@"+clients)
	worker := sock(t, sockets.Rep)
	require.NoError(t, worker.Dial(d.eps["backend"]))
	reqs := map[string]*sockets.Socket{}
	for name, k := range map[string]sockets.CurveKeypair{"a": a, "b": b} {
		reqs[name] = sock(t, sockets.Req, sockets.WithCurve(srv.Public, k), sockets.WithReconnect(20*time.Millisecond, 50*time.Millisecond))
		require.NoError(t, reqs[name].Dial(d.eps["frontend"]))
	}
	roundTrip := func(name, body string) {
		t.Helper()
		require.NoError(t, reqs[name].Send(ctx, []byte(body)))
		m, err := worker.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, body, string(m[0]))
		require.NoError(t, worker.Send(ctx, []byte("re "+body)))
		r, err := reqs[name].Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, "re "+body, string(r[0]))
	}
	roundTrip("a", "a1")
	roundTrip("b", "b1")

	mark := len(d.stderr.String())
	require.NoError(t, os.WriteFile(clients, []byte(sockets.CurveKey(b.Public)+"\n"), 0o600))
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
	d.stderr.waitFor(t, mark, `"flag":"--frontend-curve-clients","keys":1`, 10*time.Second) // "reloaded"

	// a's connection ends, and its next handshakes are refused.
	awaitEvent(t, reqs["a"], sockets.EventDisconnected)
	ev := awaitEvent(t, reqs["a"], sockets.EventHandshakeFailed)
	assert.ErrorIs(t, ev.Err, sockets.ErrAuth)
	d.stderr.waitFor(t, mark, `"msg":"disconnected: client key no longer listed"`, 5*time.Second)
	assert.Contains(t, d.stderr.String()[mark:], `"user":"`+sockets.CurveKey(a.Public)+`"`)

	// b is still served, on the connection it had.
	roundTrip("b", "b2")
	for {
		select {
		case ev := <-reqs["b"].Events():
			require.NotEqual(t, sockets.EventDisconnected, ev.Kind, "b lost its connection: %v", ev)
			continue
		default:
		}
		break
	}
	assert.Equal(t, uint64(1), reqs["b"].Stats().Connects)
	assert.Zero(t, reqs["b"].Stats().Disconnects)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

// The broker too: SIGHUP with a key gone from its @file list disconnects
// the client connected with it, and the client that stays is answered.
func TestBrokerSIGHUPDisconnectsRevokedClients(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	srv, a, b := curveKeys(t), curveKeys(t), curveKeys(t)
	dir := t.TempDir()
	clients := filepath.Join(dir, "clients")
	both := sockets.CurveKey(a.Public) + "\n" + sockets.CurveKey(b.Public) + "\n"
	require.NoError(t, os.WriteFile(clients, []byte(both), 0o600))
	d := startDevice(t, nil, "broker", "--bind", "tcp://127.0.0.1:0",
		"--curve-secret", sockets.CurveKey(srv.Secret), "--curve-clients", "@"+clients)
	dealers := map[string]*sockets.Socket{}
	for name, k := range map[string]sockets.CurveKeypair{"a": a, "b": b} {
		dealers[name] = sock(t, sockets.Dealer, sockets.WithCurve(srv.Public, k), sockets.WithReconnect(20*time.Millisecond, 50*time.Millisecond))
		require.NoError(t, dealers[name].Dial(d.all[0]))
	}
	// MMI: is there an "echo" service? (no: 404)
	ask := func(name string) {
		t.Helper()
		require.NoError(t, dealers[name].Send(ctx, []byte{}, []byte("MDPC01"), []byte("mmi.service"), []byte("echo")))
		r, err := dealers[name].Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, "404", string(r[len(r)-1]))
	}
	ask("a")
	ask("b")

	mark := len(d.stderr.String())
	require.NoError(t, os.WriteFile(clients, []byte(sockets.CurveKey(b.Public)+"\n"), 0o600))
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
	d.stderr.waitFor(t, mark, `"flag":"--curve-clients","keys":1`, 10*time.Second)
	awaitEvent(t, dealers["a"], sockets.EventDisconnected)
	ask("b")
	assert.Zero(t, dealers["b"].Stats().Disconnects)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}
