package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// A client the server refuses learns why on its own side (not only
// "peer sent ERROR"), and stops dialling unless WithRetryAuthFailures.

// refusedClient dials addr with opts and returns the first handshake
// failure it reports, after checking that it is a refusal.
func refusedClient(t *testing.T, addr string, opts ...sockets.Option) (*sockets.Socket, sockets.Event) {
	t.Helper()
	push := sock(t, sockets.Push, append([]sockets.Option{sockets.WithLinger(0),
		sockets.WithReconnect(10*time.Millisecond, 10*time.Millisecond)}, opts...)...)
	require.NoError(t, push.Dial(addr))
	ev := awaitEvent(t, push, sockets.EventHandshakeFailed)
	assert.ErrorIs(t, ev.Err, sockets.ErrRefusedByServer)
	assert.ErrorIs(t, ev.Err, sockets.ErrAuth)
	return push, ev
}

// assertDialStopped checks that the refusal ended the Dial: the reason
// says so and the dialer's pipe leaves the socket.
func assertDialStopped(t *testing.T, push *sockets.Socket, ev sockets.Event) {
	t.Helper()
	assert.ErrorIs(t, ev.Err, sockets.ErrDialStopped)
	testutil.Eventually(t, 10*time.Second, func() bool { return push.Stats().Peers == 0 },
		"the refused Dial still holds its pipe: it is still reconnecting")
	assert.EqualValues(t, 1, push.Stats().AuthFailures)
}

func TestRefusalOurPlainServer(t *testing.T) {
	pull := sock(t, sockets.Pull, sockets.WithPlainServer(func(user, pass string) bool { return user == "alice" && pass == "s3cret" }))
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)

	push, ev := refusedClient(t, addr, sockets.WithPlain("alice", "guess"))
	assert.Contains(t, ev.Err.Error(), "credentials refused")
	assertDialStopped(t, push, ev)

	// Asked to, it keeps trying: another refusal comes, not the last.
	retry, ev := refusedClient(t, addr, sockets.WithPlain("alice", "guess"), sockets.WithRetryAuthFailures(true))
	assert.NotErrorIs(t, ev.Err, sockets.ErrDialStopped)
	ev = awaitEvent(t, retry, sockets.EventHandshakeFailed)
	assert.ErrorIs(t, ev.Err, sockets.ErrRefusedByServer)
	assert.NotErrorIs(t, ev.Err, sockets.ErrDialStopped)
}

func TestRefusalOurCurveServer(t *testing.T) {
	srv, cli, other := curveKeys(t), curveKeys(t), curveKeys(t)
	pull := sock(t, sockets.Pull, sockets.WithCurveServer(srv, func(k [32]byte) bool { return k == cli.Public }))
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)

	push, ev := refusedClient(t, addr, sockets.WithCurve(other.Public, cli))
	assert.Contains(t, ev.Err.Error(), "wrong server public key?")
	assertDialStopped(t, push, ev)

	push, ev = refusedClient(t, addr, sockets.WithCurve(srv.Public, other))
	assert.Contains(t, ev.Err.Error(), "our CURVE public key is not among the clients it admits")
	assertDialStopped(t, push, ev)
}

// The CLI says why and gives up at once, well inside its --timeout (the
// command's context would end it with status 0 first).
func TestRefusalCLI(t *testing.T) {
	srv, cli, other := curveKeys(t), curveKeys(t), curveKeys(t)
	pull := sock(t, sockets.Pull, sockets.WithCurveServer(srv, nil))
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	for _, cmd := range []string{"send", "recv"} {
		typ := map[string]string{"send": "push", "recv": "pull"}[cmd]
		code, out, errOut := runCmd(t, cmd, "--type", typ, "--connect", addr, "--count", "1", "--timeout", "1h",
			"--curve-secret", sockets.CurveKey(cli.Secret), "--curve-server", sockets.CurveKey(other.Public))
		assert.Equal(t, 1, code, errOut)
		assert.Empty(t, out)
		oneLine(t, errOut, "zmqkit "+cmd+": --connect "+addr+": ", "the server refused our handshake",
			"wrong server public key?", "not reconnecting")
	}
}

// A peer that is not there, or a name that does not resolve: the error
// says what the last attempt met.
func TestNoPeerSaysWhy(t *testing.T) {
	// (Without a DNS server the lookup fails otherwise than "no such
	// host", but still names what it looked up.)
	for _, c := range []struct{ ep, timeout, want string }{
		{"tcp://" + testutil.FreePort(t), "300ms", "connection refused"},
		{"tcp://nosuch.invalid:5555", "2s", "lookup nosuch.invalid"},
	} {
		code, _, errOut := runCmd(t, "send", "--type", "push", "--connect", c.ep, "--count", "1", "--timeout", c.timeout)
		assert.Equal(t, 1, code)
		oneLine(t, errOut, "zmqkit send: no peer connected within "+c.timeout+" (last attempt: ", c.want)
		code, _, errOut = runCmd(t, "recv", "--type", "pull", "--connect", c.ep, "--count", "1", "--timeout", c.timeout)
		assert.Equal(t, 1, code)
		oneLine(t, errOut, "zmqkit recv: no message within "+c.timeout+" (0 received) (last attempt: ", c.want)
	}
}
