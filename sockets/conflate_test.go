package sockets_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/sockets"
)

// A conflating PULL that has not read keeps the newest message, all of its
// frames, and counts the ones it let go.
func TestConflatePullKeepsTheNewest(t *testing.T) {
	const n = 200
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			pull := semNew(t, sockets.Pull, sockets.WithConflate(true))
			addr := semListen(t, pull, tr)
			push := semNew(t, sockets.Push)
			require.NoError(t, push.Dial(addr))
			for i := 1; i <= n; i++ {
				require.NoError(t, push.Send(ctx, []byte("state"), []byte(fmt.Sprint(i))))
			}
			semEventually(t, 5*time.Second, func() bool { return pull.Stats().Conflated == n-1 },
				"all but one replaced (conflated %d)", pull.Stats().Conflated)
			assert.Equal(t, semF("state", fmt.Sprint(n)), semRecv(t, ctx, pull))
			semNoMsg(t, pull, 50*time.Millisecond)

			// And it goes on: the next one is there to read.
			require.NoError(t, push.Send(ctx, []byte("state"), []byte("next")))
			assert.Equal(t, semF("state", "next"), semRecv(t, ctx, pull))
		})
	}
}

// A conflating PUSH never waits: with nobody to take them, each message
// replaces the one before, and the peer that comes later gets the newest.
func TestConflatePushNeverWaits(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			ep := semDialEndpoint(t, tr)
			push := semNew(t, sockets.Push, sockets.WithConflate(true), sockets.WithSendHWM(1))
			require.NoError(t, push.Dial(ep))
			for i := 1; i <= 5; i++ {
				require.NoError(t, push.Send(ctx, []byte(fmt.Sprint(i))), "send %d", i)
			}
			assert.EqualValues(t, 4, push.Stats().Conflated)
			pull := semNew(t, sockets.Pull)
			_, err := pull.Listen(ep)
			require.NoError(t, err)
			assert.Equal(t, semF("5"), semRecv(t, ctx, pull))
			semNoMsg(t, pull, 50*time.Millisecond)
		})
	}
}

// A conflating SUB keeps the newest message it subscribed to: one it did
// not ask for (a publisher that does not filter) cannot take its place.
func TestConflateSubFiltersFirst(t *testing.T) {
	sub, _ := rbSocket(t, sockets.Sub, sockets.WithConflate(true), sockets.WithSubscribe("a."))
	addr, err := sub.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	r := rbDial(t, addr)
	require.NoError(t, r.write(rbGreeting("NULL", false), rbReady("PUB"),
		rbFrame(0, []byte("a.1")), rbFrame(0, []byte("a.2")), rbFrame(0, []byte("b.1"))))
	ctx := rbCtx(t, 5*time.Second)
	semEventually(t, 5*time.Second, func() bool { return sub.Stats().Conflated == 1 }, "a.1 replaced")
	m, err := sub.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, semF("a.2"), m)
	semNoMsg(t, sub, 50*time.Millisecond)
}

// Over inproc the publisher writes into the subscriber's queue itself,
// through the same conflation.
func TestConflateSubOverInproc(t *testing.T) {
	ctx := semCtx(t, 5*time.Second)
	pub := semNew(t, sockets.XPub)
	addr := semListen(t, pub, "inproc")
	sub := semNew(t, sockets.Sub, sockets.WithConflate(true), sockets.WithSubscribe("a."))
	require.NoError(t, sub.Dial(addr))
	assert.Equal(t, semF("\x01a."), semRecv(t, ctx, pub), "the subscription reached the publisher")
	for _, topic := range []string{"a.1", "a.2", "b.1"} {
		require.NoError(t, pub.Send(ctx, []byte(topic)))
	}
	assert.Equal(t, semF("a.2"), semRecv(t, ctx, sub))
	assert.EqualValues(t, 1, sub.Stats().Conflated)
}

// semDialEndpoint is an endpoint of transport tr to Dial before anyone
// listens there (and to Listen on later, as often as needed).
func semDialEndpoint(t *testing.T, tr string) string {
	if tr == "tcp" {
		return semFreeTCP(t)
	}
	return semEndpoint(t, tr)
}

// semFreeTCP is a tcp endpoint on a port that was free a moment ago, for a
// Dial that must come before the Listen.
func semFreeTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "tcp://" + addr
}

func TestConflateOnlyWhereItMeansSomething(t *testing.T) {
	for _, typ := range []sockets.Type{sockets.Req, sockets.Rep, sockets.Router, sockets.Pair, sockets.XPub, sockets.XSub} {
		_, err := sockets.New(typ, sockets.WithConflate(true))
		assert.True(t, errors.Is(err, sockets.ErrBadOption), "%s: %v", typ, err)
	}
	for _, typ := range []sockets.Type{sockets.Pull, sockets.Push, sockets.Sub, sockets.Pub, sockets.Dealer} {
		s, err := sockets.New(typ, sockets.WithConflate(true))
		require.NoError(t, err, typ)
		require.NoError(t, s.Close())
	}
}
