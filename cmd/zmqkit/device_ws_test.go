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

// TestDeviceBridgesTCPAndWS: the devices join a tcp side and a ws side
// (each way), as a browser-facing forwarder would: a tcp PUB to ws SUBs,
// ws REQs to a tcp REP through a queue, a ws PUSH to a tcp PULL.
func TestDeviceBridgesTCPAndWS(t *testing.T) {
	ctx := testutil.Context(t, 60*time.Second)

	t.Run("forwarder tcp→ws", func(t *testing.T) {
		pub := sock(t, sockets.Pub)
		addr, err := pub.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		d := startDevice(t, nil, "forwarder", "--frontend", ">"+addr, "--backend", "ws://127.0.0.1:0/events")
		require.Regexp(t, `^ws://127\.0\.0\.1:\d+/events$`, d.eps["backend"])
		sub := sock(t, sockets.Sub, sockets.WithSubscribe("a."))
		require.NoError(t, sub.Dial(d.eps["backend"]))
		expectThrough(t, ctx, pub, sub, "a.ws")
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGINT))
		assert.Equal(t, 0, d.wait(t))
	})

	t.Run("queue ws→tcp", func(t *testing.T) {
		d := startDevice(t, nil, "queue", "--frontend", "ws://127.0.0.1:0/rpc", "--backend", "tcp://127.0.0.1:0")
		rep := sock(t, sockets.Rep)
		require.NoError(t, rep.Dial(d.eps["backend"]))
		go func() {
			for {
				m, err := rep.Recv(ctx)
				if err != nil {
					return
				}
				_ = rep.Send(ctx, append([]byte("re:"), m[0]...))
			}
		}()
		req := sock(t, sockets.Req)
		require.NoError(t, req.Dial(d.eps["frontend"]))
		for i := 0; i < 3; i++ {
			require.NoError(t, req.Send(ctx, []byte(fmt.Sprint(i))))
			m, err := req.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("re:%d", i), string(m[0]))
		}
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGINT))
		assert.Equal(t, 0, d.wait(t))
	})

	t.Run("streamer ws→tcp", func(t *testing.T) {
		d := startDevice(t, nil, "streamer", "--frontend", "ws://127.0.0.1:0/in", "--backend", "tcp://127.0.0.1:0")
		pull := sock(t, sockets.Pull)
		require.NoError(t, pull.Dial(d.eps["backend"]))
		push := sock(t, sockets.Push)
		require.NoError(t, push.Dial(d.eps["frontend"]))
		for i := 0; i < 10; i++ {
			require.NoError(t, push.Send(ctx, []byte(fmt.Sprint(i))))
		}
		for i := 0; i < 10; i++ {
			m, err := pull.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprint(i), string(m[0]))
		}
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGINT))
		assert.Equal(t, 0, d.wait(t))
	})
}
