//go:build interop

package sockets_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// iopStreamScript is a libzmq STREAM peer (pyzmq). "server" binds, takes one
// connection, reads "hello" (in however many chunks), answers "world" and
// closes the connection with [id, empty]. "client ENDPOINT" connects, sends
// "hello", reads "world" and waits for the disconnect notification. Each
// message it receives is printed as a JSON line.
const iopStreamScript = `
import json, sys, zmq
def out(**o):
    sys.stdout.write(json.dumps(o) + "\n"); sys.stdout.flush()
ctx = zmq.Context()
s = ctx.socket(zmq.STREAM)
s.setsockopt(zmq.LINGER, 2000)
s.setsockopt(zmq.RCVTIMEO, 15000)
def recv():
    m = s.recv_multipart()
    out(ev="recv", frames=[f.hex() for f in m])
    return m
def read(peer, n):
    got = b""
    while len(got) < n:
        pid, data = recv()
        assert pid == peer and data, "want data from the peer"
        got += data
    return got
try:
    if sys.argv[1] == "server":
        s.bind("tcp://127.0.0.1:*")
        out(ev="bound", endpoint=s.getsockopt_string(zmq.LAST_ENDPOINT))
        peer, data = recv()
        assert data == b"", "want the connect notification"
        assert read(peer, 5) == b"hello"
        s.send_multipart([peer, b"world"])
        s.send_multipart([peer, b""])
    else:
        s.connect(sys.argv[2])
        peer, data = recv()
        assert data == b"", "want the connect notification"
        s.send_multipart([peer, b"hello"])
        assert read(peer, 5) == b"world"
        pid, data = recv()
        assert pid == peer and data == b"", "want the disconnect notification"
    out(ev="done")
except Exception as e:
    out(ev="error", msg=repr(e))
    sys.exit(1)
finally:
    s.close()
    ctx.term()
`

type iopStreamLine struct {
	Ev       string   `json:"ev"`
	Endpoint string   `json:"endpoint"`
	Frames   []string `json:"frames"`
	Msg      string   `json:"msg"`
}

// iopStreamPeer runs the script; next returns its next output line.
func iopStreamPeer(t *testing.T, args ...string) (next func() iopStreamLine) {
	t.Helper()
	iopRequireLibzmq(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	cmd := exec.CommandContext(ctx, iopPython(), append([]string{"-c", iopStreamScript}, args...)...)
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &iopBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	lines := make(chan iopStreamLine, 64)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l iopStreamLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = iopStreamLine{Ev: "error", Msg: "unparsable: " + sc.Text()}
			}
			lines <- l
		}
		close(lines)
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			cancel()
		}
		<-exited
		cancel()
	})
	return func() iopStreamLine {
		t.Helper()
		select {
		case l, ok := <-lines:
			require.True(t, ok, "libzmq STREAM peer exited early\nstderr:\n%s", stderr.String())
			require.NotEqual(t, "error", l.Ev, "libzmq STREAM peer: %s\nstderr:\n%s", l.Msg, stderr.String())
			return l
		case <-time.After(20 * time.Second):
			t.Fatalf("no output from the libzmq STREAM peer\nstderr:\n%s", stderr.String())
			return iopStreamLine{}
		}
	}
}

func iopStreamWant(t *testing.T, next func() iopStreamLine, ev string) iopStreamLine {
	t.Helper()
	for {
		l := next()
		if l.Ev == ev {
			return l
		}
		require.Equal(t, "recv", l.Ev, "want %s, got %+v", ev, l)
	}
}

// Our STREAM dials libzmq's: both see the connection, bytes go raw each
// way, and libzmq's [id, empty] reaches us as the disconnect notification.
func TestInteropStreamDial(t *testing.T) {
	ctx := iopCtx(t)
	next := iopStreamPeer(t, "server")
	l := next()
	require.Equal(t, "bound", l.Ev)
	s := iopSocket(t, sockets.Stream)
	require.NoError(t, s.Dial(l.Endpoint))
	id, data := streamRecv(t, ctx, s)
	require.Empty(t, data, "connect notification")
	require.NoError(t, s.Send(ctx, id, []byte("hello")))
	streamRecvData(t, ctx, s, id, []byte("world"))
	from, data := streamRecv(t, ctx, s)
	assert.Equal(t, id, from)
	assert.Empty(t, data, "libzmq closed the connection: disconnect notification")
	iopStreamWant(t, next, "done")
	require.NoError(t, s.Disconnect(l.Endpoint))
}

// libzmq's STREAM dials ours: it sees our "world" and our [id, empty]
// close as its disconnect notification.
func TestInteropStreamListen(t *testing.T) {
	ctx := iopCtx(t)
	s := iopSocket(t, sockets.Stream)
	ep, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	next := iopStreamPeer(t, "client", ep)
	id, data := streamRecv(t, ctx, s)
	require.Empty(t, data, "connect notification")
	connect := iopStreamWant(t, next, "recv")
	require.Len(t, connect.Frames, 2)
	assert.Empty(t, connect.Frames[1], "libzmq's connect notification")
	streamRecvData(t, ctx, s, id, []byte("hello"))
	require.NoError(t, s.Send(ctx, id, []byte("world")))
	require.NoError(t, s.Send(ctx, id, nil))
	iopStreamWant(t, next, "done") // the script checked "world" and the disconnect
}
