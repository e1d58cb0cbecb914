package sockets_test

// Received messages belong to the receiver: where one message goes to
// several peers (PUB and XPUB to subscribers, XSUB to publishers), no
// receiver sees what another does to its frames. Over inproc, where a
// pipe's queue is the peer's own, that takes a copy for all but one.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// semAllSubscribed publishes probes until every SUB in subs has one, then
// drains the probes left over.
func semAllSubscribed(t *testing.T, ctx context.Context, pub *sockets.Socket, subs ...*sockets.Socket) {
	t.Helper()
	waiting := map[*sockets.Socket]bool{}
	for _, s := range subs {
		waiting[s] = true
	}
	for len(waiting) > 0 {
		require.NoError(t, ctx.Err(), "subscriptions never took effect")
		require.NoError(t, pub.Send(ctx, []byte("probe")))
		for s := range waiting {
			if _, err := semTryRecv(s, 10*time.Millisecond); err == nil {
				delete(waiting, s)
			}
		}
	}
	for _, s := range subs {
		for {
			if _, err := semTryRecv(s, 20*time.Millisecond); err != nil {
				break
			}
		}
	}
}

// scribble overwrites every frame of m in place.
func scribble(m [][]byte) {
	for _, f := range m {
		for i := range f {
			f[i] = '#'
		}
	}
}

func TestReceivedFramesAreTheReceiversOwn(t *testing.T) {
	sent := func() [][]byte { return semF("topic.a", "payload") }
	for _, tc := range []struct {
		name string
		// setup returns the socket to send on and the two receivers: the
		// first will scribble on what it gets, the second must get it intact.
		setup func(t *testing.T, ctx context.Context) (from, a, b *sockets.Socket)
	}{
		{"pub to two inproc subs", func(t *testing.T, ctx context.Context) (from, a, b *sockets.Socket) {
			pub := semNew(t, sockets.Pub)
			addr := semListen(t, pub, "inproc")
			a, b = semNew(t, sockets.Sub, sockets.WithSubscribe("")), semNew(t, sockets.Sub, sockets.WithSubscribe(""))
			require.NoError(t, a.Dial(addr))
			require.NoError(t, b.Dial(addr))
			semAllSubscribed(t, ctx, pub, a, b)
			return pub, a, b
		}},
		{"pub without drops to two inproc subs", func(t *testing.T, ctx context.Context) (from, a, b *sockets.Socket) {
			pub := semNew(t, sockets.Pub, sockets.WithPubNoDrop(true))
			addr := semListen(t, pub, "inproc")
			a, b = semNew(t, sockets.Sub, sockets.WithSubscribe("")), semNew(t, sockets.Sub, sockets.WithSubscribe(""))
			require.NoError(t, a.Dial(addr))
			require.NoError(t, b.Dial(addr))
			semAllSubscribed(t, ctx, pub, a, b)
			return pub, a, b
		}},
		{"xpub to an inproc and a tcp sub", func(t *testing.T, ctx context.Context) (from, a, b *sockets.Socket) {
			xpub := semNew(t, sockets.XPub)
			a, b = semNew(t, sockets.Sub, sockets.WithSubscribe("")), semNew(t, sockets.Sub, sockets.WithSubscribe(""))
			require.NoError(t, a.Dial(semListen(t, xpub, "inproc")))
			require.NoError(t, b.Dial(semListen(t, xpub, "tcp")))
			semXPubNext(t, ctx, xpub)
			semAllSubscribed(t, ctx, xpub, a, b)
			return xpub, a, b
		}},
		{"xsub to two inproc xpubs", func(t *testing.T, ctx context.Context) (from, a, b *sockets.Socket) {
			a, b = semNew(t, sockets.XPub), semNew(t, sockets.XPub)
			xsub := semNew(t, sockets.XSub)
			require.NoError(t, xsub.Dial(semListen(t, a, "inproc")))
			require.NoError(t, xsub.Dial(semListen(t, b, "inproc")))
			semWaitEvents(t, xsub, sockets.EventConnected, 2, 5*time.Second)
			return xsub, a, b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := semCtx(t, 15*time.Second)
			from, a, b := tc.setup(t, ctx)
			require.NoError(t, from.Send(ctx, sent()...))
			got := semRecv(t, ctx, a)
			require.Equal(t, sent(), got)
			scribble(got)
			assert.Equal(t, sent(), semRecv(t, ctx, b), "the other receiver's frames are its own")
		})
	}
}
