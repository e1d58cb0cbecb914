//go:build interop

package main

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// pyServer runs a libzmq PULL server (pyzmq) on a free port for the test
// and returns its endpoint. mode "curve": a CURVE server with a key of its
// own (no client knows it); "plain": a PLAIN server whose ZAP handler
// admits alice/s3cret only.
func pyServer(t *testing.T, mode string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, python(t), "-c", `
import sys, zmq
ctx = zmq.Context.instance()
s = ctx.socket(zmq.PULL)
if sys.argv[1] == "curve":
    pub, sec = zmq.curve_keypair()
    s.curve_server = True
    s.curve_secretkey = sec
    s.curve_publickey = pub
else:
    from zmq.auth.thread import ThreadAuthenticator
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_plain(domain="*", passwords={"alice": "s3cret"})
    s.plain_server = True
print("tcp://127.0.0.1:%d" % s.bind_to_random_port("tcp://127.0.0.1"), flush=True)
sys.stdin.read()  # until the test ends
`, mode)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		cancel()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the pyzmq server did not start")
	return strings.TrimSpace(line)
}

// A libzmq CURVE server hangs up on a HELLO it cannot open, saying
// nothing: our client still names the likely cause, and stops.
func TestInteropRefusalLibzmqCurveServer(t *testing.T) {
	ep := pyServer(t, "curve")
	cli, wrong := curveKeys(t), curveKeys(t)
	push, ev := refusedClient(t, ep, sockets.WithCurve(wrong.Public, cli))
	assert.Contains(t, ev.Err.Error(), "wrong server public key?")
	assertDialStopped(t, push, ev)

	code, _, errOut := runCmd(t, "send", "--type", "push", "--connect", ep, "--count", "1", "--timeout", "1h",
		"--curve-secret", sockets.CurveKey(cli.Secret), "--curve-server", sockets.CurveKey(wrong.Public))
	assert.Equal(t, 1, code, errOut)
	oneLine(t, errOut, "zmqkit send: --connect "+ep+": ", "wrong server public key?", "not reconnecting")
}

// libzmq's PLAIN server, its ZAP handler refusing the password: ERROR 400
// in libzmq's own spelling.
func TestInteropRefusalLibzmqPlainServer(t *testing.T) {
	ep := pyServer(t, "plain")
	push, ev := refusedClient(t, ep, sockets.WithPlain("alice", "guess"))
	assert.Contains(t, ev.Err.Error(), "credentials refused")
	assertDialStopped(t, push, ev)

	// The right password still gets in.
	ok := sock(t, sockets.Push, sockets.WithPlain("alice", "s3cret"), sockets.WithLinger(0))
	require.NoError(t, ok.Dial(ep))
	awaitEvent(t, ok, sockets.EventConnected)
}
