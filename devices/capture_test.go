package devices_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// The capture gets frames of its own: what its reader does to them never
// reaches the forwarded message, even when both travel inproc.
func TestCaptureFramesAreItsOwn(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	name := fmt.Sprintf("inproc://capture-own-%d", time.Now().UnixNano())
	front, back := must(t, sockets.Pull), must(t, sockets.Push)
	fa, err := front.Listen(name + "-front")
	require.NoError(t, err)
	ba, err := back.Listen(name + "-back")
	require.NoError(t, err)
	tap := must(t, sockets.Push)
	ta, err := tap.Listen(name + "-tap")
	require.NoError(t, err)
	p, err := devices.NewStreamer(front, back, devices.WithCapture(tap, true))
	require.NoError(t, err)
	defer run(t, ctx, p)()

	producer, worker, capture := must(t, sockets.Push), must(t, sockets.Pull), must(t, sockets.Pull)
	require.NoError(t, producer.Dial(fa))
	require.NoError(t, worker.Dial(ba))
	require.NoError(t, capture.Dial(ta))
	waitPeers(t, tap, 1)
	waitPeers(t, back, 1)

	for i := range 3 {
		require.NoError(t, producer.Send(ctx, []byte("hello"), []byte("world")))
		c, err := capture.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("in"), []byte("hello"), []byte("world")}, c, "copy %d", i)
		for _, f := range c {
			copy(f, bytes.Repeat([]byte("#"), len(f)))
		}
		m, err := worker.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, [][]byte{[]byte("hello"), []byte("world")}, m, "message %d", i)
	}
}
