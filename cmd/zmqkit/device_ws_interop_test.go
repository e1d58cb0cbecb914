//go:build interop

package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// Debian's libzmq has no ws transport (DRAFT builds only), so interop over
// ws goes through a device: a zmqkit peer on ws, the device, a libzmq
// (pyzmq) peer on tcp; both directions.
func TestInteropWSThroughDevicesWithPyzmq(t *testing.T) {
	ctx := testutil.Context(t, 60*time.Second)

	t.Run("ws REQ → queue → libzmq REP", func(t *testing.T) {
		d := startDevice(t, nil, "queue", "--frontend", "ws://127.0.0.1:0/rpc", "--backend", "tcp://127.0.0.1:0")
		done := make(chan []string, 1)
		go func() {
			var out []string
			defer func() { done <- out }() // also when runPy fails the test
			out = runPy(t, `
import sys, zmq
ctx = zmq.Context.instance()
rep = ctx.socket(zmq.REP); rep.setsockopt(zmq.RCVTIMEO, 15000); rep.connect(sys.argv[1])
for i in range(20):
    m = rep.recv_multipart()
    rep.send_multipart([b"libzmq:" + m[0]])
print("served")
`, d.eps["backend"])
		}()
		req := sock(t, sockets.Req)
		require.NoError(t, req.Dial(d.eps["frontend"]))
		for i := 0; i < 20; i++ {
			require.NoError(t, req.Send(ctx, []byte(fmt.Sprint(i))))
			m, err := req.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("libzmq:%d", i), string(m[0]))
		}
		assert.Equal(t, []string{"served"}, <-done)
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, d.wait(t))
	})

	t.Run("libzmq PUSH → streamer → ws PULL", func(t *testing.T) {
		d := startDevice(t, nil, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "ws://127.0.0.1:0/out")
		pull := sock(t, sockets.Pull)
		require.NoError(t, pull.Dial(d.eps["backend"]))
		out := runPy(t, `
import sys, zmq
ctx = zmq.Context.instance()
push = ctx.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 10000); push.connect(sys.argv[1])
for i in range(100):
    push.send_multipart([b"n", str(i).encode(), b"x" * (i * 97)])
push.close()
print("sent")
`, d.eps["frontend"])
		assert.Equal(t, []string{"sent"}, out)
		for i := 0; i < 100; i++ {
			m, err := pull.Recv(ctx)
			require.NoError(t, err)
			require.Len(t, m, 3)
			assert.Equal(t, fmt.Sprint(i), string(m[1]))
			assert.Len(t, m[2], i*97)
		}
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, d.wait(t))
	})

	t.Run("ws PUB → forwarder → libzmq SUB", func(t *testing.T) {
		d := startDevice(t, nil, "forwarder", "--frontend", "ws://127.0.0.1:0/pub", "--backend", "tcp://127.0.0.1:0")
		pub := sock(t, sockets.Pub)
		require.NoError(t, pub.Dial(d.eps["frontend"]))
		done := make(chan []string, 1)
		go func() {
			var out []string
			defer func() { done <- out }() // also when runPy fails the test
			out = runPy(t, `
import sys, zmq
ctx = zmq.Context.instance()
sub = ctx.socket(zmq.SUB); sub.setsockopt(zmq.RCVTIMEO, 15000); sub.setsockopt(zmq.SUBSCRIBE, b"w."); sub.connect(sys.argv[1])
m = sub.recv_multipart()
print(m[0].decode(), m[1].decode())
`, d.eps["backend"])
		}()
		// Publish until the subscription, travelling from libzmq through
		// the forwarder, lets a message through.
		for {
			require.NoError(t, pub.Send(ctx, []byte("x.nobody"), []byte("no")))
			require.NoError(t, pub.Send(ctx, []byte("w.hello"), []byte("from ws")))
			select {
			case out := <-done:
				assert.Equal(t, []string{"w.hello from ws"}, out)
				require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
				assert.Equal(t, 0, d.wait(t))
				return
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				t.Fatal("the libzmq SUB got nothing")
			}
		}
	})
}
