package sockets_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// verboserScenario drives two SUBs connected to an XPUB made verboser and
// checks, through next (the XPUB's next subscription message as "+topic" or
// "-topic"), that every subscribe and every cancel comes through, and that
// a departing subscriber's topics are cancelled even when the other still
// holds them. It runs against our XPUB and against libzmq's (interop).
func verboserScenario(t *testing.T, next func() string, sub1, sub2 *sockets.Socket) {
	t.Helper()
	require.NoError(t, sub1.Subscribe("t"))
	assert.Equal(t, "+t", next())
	require.NoError(t, sub2.Subscribe("t"))
	assert.Equal(t, "+t", next(), "a second subscribe comes through (verbose)")
	require.NoError(t, sub1.Unsubscribe("t"))
	assert.Equal(t, "-t", next(), "a cancel that is not the last comes through (verboser)")
	require.NoError(t, sub2.Unsubscribe("t"))
	assert.Equal(t, "-t", next(), "and so does the last")

	require.NoError(t, sub1.Subscribe("u"))
	assert.Equal(t, "+u", next())
	require.NoError(t, sub2.Subscribe("u"))
	assert.Equal(t, "+u", next())
	require.NoError(t, sub2.Close())
	assert.Equal(t, "-u", next(), "a departing subscriber's topic is cancelled though sub1 holds it")
	require.NoError(t, sub1.Subscribe("end"))
	assert.Equal(t, "+end", next(), "nothing else came before")
}

func TestXPubVerboser(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 15*time.Second)
			xpub := semNew(t, sockets.XPub, sockets.WithXPubVerboser(true))
			addr := semListen(t, xpub, tr)
			sub1 := semNew(t, sockets.Sub)
			sub2 := semNew(t, sockets.Sub)
			semDialSub(t, sub1, addr)
			semDialSub(t, sub2, addr)
			next := func() string { return semXPubNext(t, ctx, xpub) }
			verboserScenario(t, next, sub1, sub2)

			// Ours only: a cancel for a topic the subscriber never held
			// is dropped (libzmq passes it on).
			require.NoError(t, sub1.Unsubscribe("never"))
			require.NoError(t, sub1.Subscribe("marker"))
			assert.Equal(t, "+marker", next(), "the cancel of a topic never held is dropped")
			semNoMsg(t, xpub, 30*time.Millisecond)
		})
	}
}

// Verboser on, then off again: back to plain verbose (every subscribe, the
// last cancel only), as libzmq's ZMQ_XPUB_VERBOSER=0 leaves ZMQ_XPUB_VERBOSE.
func TestXPubVerboserOff(t *testing.T) {
	ctx := semCtx(t, 15*time.Second)
	xpub := semNew(t, sockets.XPub, sockets.WithXPubVerboser(true), sockets.WithXPubVerboser(false))
	addr := semListen(t, xpub, "tcp")
	sub1 := semNew(t, sockets.Sub)
	sub2 := semNew(t, sockets.Sub)
	semDialSub(t, sub1, addr)
	semDialSub(t, sub2, addr)
	next := func() string { return semXPubNext(t, ctx, xpub) }
	require.NoError(t, sub1.Subscribe("t"))
	assert.Equal(t, "+t", next())
	require.NoError(t, sub2.Subscribe("t"))
	assert.Equal(t, "+t", next(), "still verbose")
	require.NoError(t, sub1.Unsubscribe("t"))
	require.NoError(t, sub1.Subscribe("m"))
	assert.Equal(t, "+m", next(), "not verboser: a cancel that is not the last stays")
	require.NoError(t, sub2.Unsubscribe("t"))
	assert.Equal(t, "-t", next())
}

func TestXPubVerboserOnlyXPub(t *testing.T) {
	for _, typ := range []sockets.Type{sockets.Pub, sockets.Sub, sockets.XSub, sockets.Push} {
		t.Run(fmt.Sprint(typ), func(t *testing.T) {
			_, err := sockets.New(typ, sockets.WithXPubVerboser(true))
			assert.ErrorIs(t, err, sockets.ErrBadOption)
		})
	}
}
