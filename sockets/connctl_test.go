package sockets_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// Each EventConnectRetried says how long the Dial waits before trying
// again: the back-off of WithReconnect, with its ±25% jitter.
func TestConnectRetriedCarriesInterval(t *testing.T) {
	push := newSock(t, sockets.Push, sockets.WithReconnect(20*time.Millisecond, 160*time.Millisecond))
	log := watchEvents(push)
	require.NoError(t, push.Dial("tcp://"+testutil.FreePort(t)))
	for i, b := range []time.Duration{20, 40, 80, 160, 160} {
		b *= time.Millisecond
		ev := log.wait(t, 5*time.Second, i+1, "connect-retried", kind(sockets.EventConnectRetried))
		assert.True(t, ev.Retry >= b*3/4 && ev.Retry <= b*5/4, "retry %d: %v, want %v ± 25%%", i, ev.Retry, b)
		assert.True(t, errors.Is(ev.Err, syscall.ECONNREFUSED), "%v", ev.Err)
	}
}

// WithReconnectStop(StopOnRefused): the first refusal ends the Dial.
func TestReconnectStopOnRefused(t *testing.T) {
	push := newSock(t, sockets.Push, sockets.WithReconnect(10*time.Millisecond, 0), sockets.WithReconnectStop(sockets.StopOnRefused))
	log := watchEvents(push)
	require.NoError(t, push.Dial("tcp://"+testutil.FreePort(t)))
	ev := log.wait(t, 5*time.Second, 1, "dial-stopped", kind(sockets.EventDialStopped))
	assert.ErrorIs(t, ev.Err, sockets.ErrDialStopped)
	assert.ErrorIs(t, ev.Err, syscall.ECONNREFUSED)
	// A Dial that gave up lets its pipe go; one that retries keeps it.
	testutil.Eventually(t, 5*time.Second, func() bool { return push.Stats().Peers == 0 }, "the pipe let go")
	assert.EqualValues(t, 1, push.Stats().DialStops)
	assert.Zero(t, log.count(kind(sockets.EventConnectRetried)))

	// Without it, the same Dial keeps trying and keeps its pipe.
	push2 := newSock(t, sockets.Push, sockets.WithReconnect(10*time.Millisecond, 0), sockets.WithReconnectStop(sockets.StopOnHandshakeFailed))
	log2 := watchEvents(push2)
	require.NoError(t, push2.Dial("tcp://"+testutil.FreePort(t)))
	log2.wait(t, 5*time.Second, 3, "connect-retried", kind(sockets.EventConnectRetried))
	assert.EqualValues(t, 1, push2.Stats().Peers)
	assert.Zero(t, log2.count(kind(sockets.EventDialStopped)))

	_, err := sockets.NewPush(sockets.WithReconnectStop(0x80))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	_, err = sockets.NewPush(sockets.WithConnectTimeout(-time.Second))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}

// WithReconnectStop(StopOnHandshakeFailed): a peer that cannot talk to us
// ends the Dial at the first handshake.
func TestReconnectStopOnHandshakeFailed(t *testing.T) {
	other := newSock(t, sockets.Push) // PUSH cannot talk to PUSH
	ep, err := other.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push := newSock(t, sockets.Push, sockets.WithReconnect(10*time.Millisecond, 0), sockets.WithReconnectStop(sockets.StopOnHandshakeFailed))
	log := watchEvents(push)
	require.NoError(t, push.Dial(ep))
	hs := log.wait(t, 5*time.Second, 1, "handshake-failed", kind(sockets.EventHandshakeFailed))
	assert.ErrorIs(t, hs.Err, sockets.ErrDialStopped)
	ev := log.wait(t, 5*time.Second, 1, "dial-stopped", kind(sockets.EventDialStopped))
	assert.ErrorIs(t, ev.Err, sockets.ErrDialStopped)
	testutil.Eventually(t, 5*time.Second, func() bool { return push.Stats().Peers == 0 }, "the pipe let go")
	assert.Equal(t, 1, log.count(kind(sockets.EventHandshakeFailed)))
}

// isTimeout reports an error net calls a timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
