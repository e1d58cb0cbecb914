package sockets_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// rbListenRetry listens on endpoint, retrying (bounded) while the address
// is still in use.
func rbListenRetry(t *testing.T, s *sockets.Socket, endpoint string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for attempt := 0; ; attempt++ {
		_, err := s.Listen(endpoint)
		if err == nil {
			return
		}
		require.ErrorIs(t, err, sockets.ErrAddrInUse)
		require.True(t, time.Now().Before(deadline), "%s still in use after %d attempts", endpoint, attempt)
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// A PUSH that dials a fixed tcp port finds a new PULL there, with no user
// action, each time the old one goes away; what it sent meanwhile waits (up
// to the send HWM) and arrives after the reconnect, in order.
func TestReconnectSamePort(t *testing.T) {
	const hwm = 20
	pull, _ := rbSocket(t, sockets.Pull)
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)

	push, pushLog := rbSocket(t, sockets.Push,
		sockets.WithReconnect(20*time.Millisecond, 200*time.Millisecond), sockets.WithSendHWM(hwm))
	require.NoError(t, push.Dial(addr))
	ctx := rbCtx(t, 20*time.Second)

	roundTrip := func(pull *sockets.Socket, tag string) {
		t.Helper()
		for i := 0; i < 3; i++ {
			want := fmt.Sprintf("%s-%d", tag, i)
			require.NoError(t, push.Send(ctx, []byte(want)))
			m, err := pull.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, [][]byte{[]byte(want)}, m)
		}
	}
	roundTrip(pull, "first")

	for cycle := 1; cycle <= 2; cycle++ {
		mark := pushLog.mark()
		require.NoError(t, pull.Close())
		pushLog.await(t, mark, 5*time.Second, "disconnected", rbEnded)

		// No peer: messages queue up to the HWM, then Send waits.
		for i := 0; i < hwm; i++ {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := push.Send(sctx, []byte(fmt.Sprintf("queued-%d-%d", cycle, i)))
			cancel()
			require.NoError(t, err, "message %d did not queue", i)
		}
		sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := push.Send(sctx, []byte("over the HWM"))
		cancel()
		require.True(t, errors.Is(err, context.DeadlineExceeded), "Send past the HWM: %v", err)
		// The dialer keeps trying.
		pushLog.await(t, mark, 5*time.Second, "connect-retried", rbKind(sockets.EventConnectRetried))

		// A new PULL on the same port.
		pull, _ = rbSocket(t, sockets.Pull)
		rbListenRetry(t, pull, addr)
		pushLog.await(t, mark, 5*time.Second, "connected", rbKind(sockets.EventConnected))
		for i := 0; i < hwm; i++ {
			m, err := pull.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, [][]byte{[]byte(fmt.Sprintf("queued-%d-%d", cycle, i))}, m)
		}
		roundTrip(pull, fmt.Sprintf("cycle-%d", cycle))
	}

	st := push.Stats()
	assert.Equal(t, uint64(3), st.Connects, "Connects")
	assert.GreaterOrEqual(t, st.ConnectRetries, uint64(2), "ConnectRetries")
	assert.Equal(t, int64(1), st.Peers)
	assert.Equal(t, uint64(3*3+2*hwm), st.MsgsOut)
}

// The reconnect back-off stays within its bounds: while nothing listens,
// attempts keep coming at most about ReconnectMax apart.
func TestReconnectBackoffBounded(t *testing.T) {
	// Find a port nobody listens on: bind one and close it.
	probe, _ := rbSocket(t, sockets.Pull)
	addr, err := probe.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, probe.Close())

	push, pushLog := rbSocket(t, sockets.Push, sockets.WithReconnect(10*time.Millisecond, 80*time.Millisecond))
	require.NoError(t, push.Dial(addr))
	pushLog.awaitCount(t, 0, 8, 5*time.Second, "connect-retried", rbKind(sockets.EventConnectRetried))
	pushLog.mu.Lock()
	var times []time.Time
	for _, e := range pushLog.evs {
		if e.Kind == sockets.EventConnectRetried {
			times = append(times, e.at)
		}
	}
	pushLog.mu.Unlock()
	for i := 1; i < len(times); i++ {
		// 80 ms + 25% jitter, plus generous scheduling slack.
		assert.Less(t, times[i].Sub(times[i-1]), 500*time.Millisecond, "gap before attempt %d", i)
	}

	// And a listener appearing there is found.
	mark := pushLog.mark()
	pull, _ := rbSocket(t, sockets.Pull)
	rbListenRetry(t, pull, addr)
	pushLog.await(t, mark, 5*time.Second, "connected", rbKind(sockets.EventConnected))
	ctx := rbCtx(t, 5*time.Second)
	require.NoError(t, push.Send(ctx, []byte("found you")))
	m, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("found you")}, m)
}
