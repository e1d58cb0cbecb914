package devices_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// A device survives its peers: garbage on its ports, a worker that dies and
// another that comes, and a subscriber that stops reading.
func TestDeviceSurvivesItsPeers(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Pull), must(t, sockets.Push, sockets.WithSendHWM(10))
	fa, ba := listen(t, front), listen(t, back)
	p, err := devices.NewStreamer(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()

	// Garbage on both ports: each costs one connection, counted.
	for _, addr := range []string{fa, ba} {
		c, err := net.Dial("tcp", strings.TrimPrefix(addr, "tcp://"))
		require.NoError(t, err)
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("\xff", 200)))
		c.Close()
	}

	producer := must(t, sockets.Push)
	require.NoError(t, producer.Dial(fa))
	worker := must(t, sockets.Pull)
	require.NoError(t, worker.Dial(ba))
	waitPeers(t, back, 1)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			require.NoError(t, producer.Send(ctx, []byte(fmt.Sprint(i))))
		}
	}
	send(0, 50)
	for i := 0; i < 50; i++ {
		m, err := worker.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), string(m[0]))
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return front.Stats().HandshakeFailures+back.Stats().HandshakeFailures >= 2
	}, "garbage connections were not counted")

	// The worker dies; messages wait at the device (HWM) until another comes.
	require.NoError(t, worker.Close())
	testutil.Eventually(t, 5*time.Second, func() bool { return back.Stats().Peers == 0 }, "the dead worker was not noticed")
	send(50, 60)
	late := must(t, sockets.Pull)
	require.NoError(t, late.Dial(ba))
	for i := 50; i < 60; i++ {
		m, err := late.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(i), string(m[0]), "nothing lost while no worker was there")
	}
	assert.Positive(t, p.Stats().Frontend.MsgsIn)
}

func TestForwarderSlowSubscriberDoesNotStallOthers(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.XSub), must(t, sockets.XPub, sockets.WithSendHWM(20))
	fa, ba := listen(t, front), listen(t, back)
	p, err := devices.NewForwarder(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()
	pub := must(t, sockets.Pub)
	require.NoError(t, pub.Dial(fa))
	fast := must(t, sockets.Sub, sockets.WithSubscribe(""))
	slow := must(t, sockets.Sub, sockets.WithSubscribe(""), sockets.WithRecvHWM(5))
	require.NoError(t, fast.Dial(ba))
	require.NoError(t, slow.Dial(ba))
	waitDelivered(t, ctx, pub, fast, "probe")
	waitDelivered(t, ctx, pub, slow, "probe")
	const n = 5000
	got := 0
	for i := 0; i < n; i++ {
		require.NoError(t, pub.Send(ctx, []byte("t"), make([]byte, 1024)))
		if i%20 == 19 { // read in step with the publisher: the fast one keeps up
			for got < i+1 {
				_, err := fast.Recv(ctx)
				require.NoError(t, err)
				got++
			}
		}
	}
	assert.Equal(t, n, got, "the fast subscriber got everything")
	assert.Positive(t, p.Stats().Backend.Dropped, "the slow subscriber's share was dropped and counted")
}
