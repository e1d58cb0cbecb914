//go:build interop

package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pyzmq programs on both sides of our device processes, and pyzmq steering
// them: the devices are peers of libzmq, not only of zmqkit.

func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("ZMQKIT_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	out, err := exec.Command(py, "-c", "import zmq; print(zmq.zmq_version())").CombinedOutput()
	if err != nil {
		t.Fatalf("the libzmq peer is missing (%s cannot import zmq: %v %s): install Debian's python3-zmq (make test does)", py, err, out)
	}
	return py
}

// runPy runs a pyzmq script with args and returns its stdout lines.
func runPy(t *testing.T, script string, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python(t), append([]string{"-c", script}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), "python: %s", errb.String())
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

func TestInteropDevicesWithPyzmq(t *testing.T) {
	t.Run("streamer", func(t *testing.T) {
		d := startDevice(t, nil, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0")
		out := runPy(t, `
import sys, zmq
ctx = zmq.Context.instance()
pull = ctx.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 10000); pull.connect(sys.argv[2])
push = ctx.socket(zmq.PUSH); push.connect(sys.argv[1])
for i in range(100):
    push.send_multipart([b"n", str(i).encode()])
got = [pull.recv_multipart()[1].decode() for _ in range(100)]
print("ok" if got == [str(i) for i in range(100)] else "bad %r" % got[:5])
`, d.eps["frontend"], d.eps["backend"])
		assert.Equal(t, []string{"ok"}, out)
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, d.wait(t))
	})
	t.Run("queue", func(t *testing.T) {
		d := startDevice(t, nil, "queue", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0")
		out := runPy(t, `
import sys, threading, zmq
ctx = zmq.Context.instance()
def worker(name):
    rep = ctx.socket(zmq.REP); rep.setsockopt(zmq.RCVTIMEO, 3000); rep.connect(sys.argv[2])
    try:
        while True:
            m = rep.recv_multipart()
            rep.send_multipart([name.encode()] + m)
    except zmq.Again:
        rep.close(0)
ws = [threading.Thread(target=worker, args=("w%d" % i,)) for i in range(3)]
for w in ws: w.start()
reqs = []
for i in range(3):
    r = ctx.socket(zmq.REQ); r.setsockopt(zmq.RCVTIMEO, 10000); r.connect(sys.argv[1]); reqs.append(r)
served = set(); ok = True
for rnd in range(10):
    for i, r in enumerate(reqs):
        body = ("c%d r%d" % (i, rnd)).encode()
        r.send(body)
        rep = r.recv_multipart()
        ok = ok and rep[1] == body
        served.add(rep[0])
print("ok" if ok else "wrong reply")
print(len(served))
for r in reqs: r.close(0)
for w in ws: w.join()
`, d.eps["frontend"], d.eps["backend"])
		require.Len(t, out, 2)
		assert.Equal(t, "ok", out[0], "every reply went back to its pyzmq client")
		assert.Equal(t, "3", out[1], "all three pyzmq workers served")
	})
	t.Run("forwarder-and-steering", func(t *testing.T) {
		d := startDevice(t, nil, "forwarder", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
			"--control", "tcp://127.0.0.1:0")
		out := runPy(t, `
import sys, struct, time, zmq
ctx = zmq.Context.instance()
sub = ctx.socket(zmq.SUB); sub.setsockopt(zmq.RCVTIMEO, 50); sub.setsockopt(zmq.SUBSCRIBE, b"a."); sub.connect(sys.argv[2])
pub = ctx.socket(zmq.PUB); pub.connect(sys.argv[1])
got = None
for i in range(300):            # until the subscription has travelled up
    pub.send_multipart([b"b.no", b"x"]); pub.send_multipart([b"a.yes", b"%d" % i])
    try:
        got = sub.recv_multipart(); break
    except zmq.Again:
        pass
print(got[0].decode() if got else "nothing")
ctl = ctx.socket(zmq.REQ); ctl.setsockopt(zmq.RCVTIMEO, 5000); ctl.connect(sys.argv[3])
ctl.send(b"PAUSE"); print(repr(ctl.recv()))
ctl.send(b"STATISTICS"); st = [struct.unpack("<Q", f)[0] for f in ctl.recv_multipart()]
print(len(st), st[0] > 0, st[0] == st[6], st[4] >= 1)
ctl.send(b"RESUME"); ctl.recv()
ctl.send(b"TERMINATE"); print(repr(ctl.recv()))
for s in (sub, pub, ctl): s.close(0)
`, d.eps["frontend"], d.eps["backend"], d.eps["control"])
		require.Len(t, out, 4, out)
		assert.Equal(t, "a.yes", out[0], "a pyzmq SUB got a pyzmq PUB's message through our forwarder")
		assert.Equal(t, "b''", out[1], "PAUSE is answered with an empty frame")
		assert.Equal(t, "8 True True True", out[2], "STATISTICS: 8 counters; frontend in == backend out; the subscription came in at the backend")
		assert.Equal(t, "b''", out[3])
		assert.Equal(t, 0, d.wait(t), "TERMINATE from pyzmq ends the device")
	})
}
