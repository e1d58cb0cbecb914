package sockets_test

// RFC 28 (ROUTER): routing by the identity a peer announces, generated
// identities for anonymous peers, unroutable messages (dropped and counted,
// or ErrHostUnreachable when mandatory), duplicate identities (refused, or
// handed over to the newcomer).

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

func TestSemRouterRoutingID(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			router := semNew(t, sockets.Router)
			addr := semListen(t, router, tr)
			dealers := map[string]*sockets.Socket{}
			for _, id := range []string{"alice", "bob", "carol"} {
				d := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte(id)))
				require.NoError(t, d.Dial(addr))
				dealers[id] = d
			}
			semWaitEvents(t, router, sockets.EventConnected, 3, 5*time.Second)

			// Router -> dealer by the id the dealer chose, before the dealer
			// ever sent anything.
			for _, id := range []string{"bob", "carol", "alice"} {
				require.NoError(t, router.Send(ctx, []byte(id), []byte("for "+id), []byte("")))
			}
			for id, d := range dealers {
				assert.Equal(t, []string{"for " + id, ""}, semS(semRecv(t, ctx, d)))
				semNoMsg(t, d, 10*time.Millisecond)
			}
			// Dealer -> router: the id comes first.
			for id, d := range dealers {
				require.NoError(t, d.Send(ctx, []byte("from "+id)))
				assert.Equal(t, []string{id, "from " + id}, semS(semRecv(t, ctx, router)))
			}
			assert.Zero(t, router.Stats().Unroutable)
		})
	}
}

// Anonymous peers get distinct generated ids (5 bytes, the first zero, as
// libzmq), and replies sent to those ids reach the peer that sent.
func TestSemRouterGeneratedIDs(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			router := semNew(t, sockets.Router)
			addr := semListen(t, router, tr)
			names := []string{"d0", "d1", "d2", "d3"}
			dealers := make([]*sockets.Socket, len(names))
			for i, name := range names {
				dealers[i] = semNew(t, sockets.Dealer)
				require.NoError(t, dealers[i].Dial(addr))
				require.NoError(t, dealers[i].Send(ctx, []byte(name)))
			}
			ids := map[string]string{}
			for range names {
				m := semRecv(t, ctx, router)
				require.Len(t, m, 2)
				require.Len(t, m[0], 5, "generated id %x", m[0])
				require.Zero(t, m[0][0], "generated ids start with a zero byte")
				_, dup := ids[string(m[0])]
				require.False(t, dup, "id %x given twice", m[0])
				ids[string(m[0])] = string(m[1])
			}
			require.Len(t, ids, len(names))
			for id, name := range ids {
				require.NoError(t, router.Send(ctx, []byte(id), []byte("re "+name)))
			}
			for i, d := range dealers {
				assert.Equal(t, []string{"re " + names[i]}, semS(semRecv(t, ctx, d)))
			}
		})
	}
}

func TestSemRouterUnroutable(t *testing.T) {
	for _, mandatory := range []bool{false, true} {
		name := "dropped"
		if mandatory {
			name = "mandatory"
		}
		t.Run(name, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			router := semNew(t, sockets.Router, sockets.WithRouterMandatory(mandatory))
			addr := semListen(t, router, "tcp")
			d := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte("known")))
			require.NoError(t, d.Dial(addr))
			semWaitEvents(t, router, sockets.EventConnected, 1, 5*time.Second)

			err := router.Send(ctx, []byte("nobody"), []byte("lost"))
			if mandatory {
				require.ErrorIs(t, err, sockets.ErrHostUnreachable)
				assert.Zero(t, router.Stats().Unroutable)
			} else {
				require.NoError(t, err)
				assert.EqualValues(t, 1, router.Stats().Unroutable)
			}
			// The known peer is unaffected.
			require.NoError(t, router.Send(ctx, []byte("known"), []byte("ok")))
			assert.Equal(t, []string{"ok"}, semS(semRecv(t, ctx, d)))
			semNoMsg(t, d, 20*time.Millisecond)

			// A message without a body is refused either way.
			require.ErrorIs(t, router.Send(ctx, []byte("known")), sockets.ErrEmptyMessage)
		})
	}
}

// A second peer announcing an id already connected is refused, every time
// it tries (EventRejected on the ROUTER), while the first keeps the id.
func TestSemRouterDuplicateIDRefused(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			router := semNew(t, sockets.Router)
			addr := semListen(t, router, tr)
			first := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte("dup")))
			require.NoError(t, first.Dial(addr))
			semWaitEvents(t, router, sockets.EventConnected, 1, 5*time.Second)

			second := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte("dup")))
			require.NoError(t, second.Dial(addr))
			semWaitEvents(t, router, sockets.EventRejected, 1, 5*time.Second)
			assert.GreaterOrEqual(t, router.Stats().Rejected, uint64(1))
			assert.EqualValues(t, 1, router.Stats().Peers)

			for i := 0; i < 3; i++ {
				require.NoError(t, router.Send(ctx, []byte("dup"), []byte("to first")))
				assert.Equal(t, []string{"to first"}, semS(semRecv(t, ctx, first)))
				require.NoError(t, first.Send(ctx, []byte("from first")))
				assert.Equal(t, []string{"dup", "from first"}, semS(semRecv(t, ctx, router)))
			}
			semNoMsg(t, second, 20*time.Millisecond)
			assert.Zero(t, router.Stats().Unroutable)
		})
	}
}

// With WithRouterHandover the newest peer claiming an id takes it over; the
// older one is disconnected.
func TestSemRouterHandover(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			router := semNew(t, sockets.Router, sockets.WithRouterHandover(true))
			addr := semListen(t, router, tr)
			// The old peer must not come back and take the id again during
			// the test: it waits a minute before reconnecting.
			old := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte("h")), sockets.WithReconnect(time.Minute, 0))
			require.NoError(t, old.Dial(addr))
			semWaitEvents(t, router, sockets.EventConnected, 1, 5*time.Second)
			require.NoError(t, router.Send(ctx, []byte("h"), []byte("to old")))
			assert.Equal(t, []string{"to old"}, semS(semRecv(t, ctx, old)))

			newer := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte("h")))
			require.NoError(t, newer.Dial(addr))
			semWaitEvents(t, router, sockets.EventConnected, 1, 5*time.Second)
			semWaitEvents(t, old, sockets.EventDisconnected, 1, 5*time.Second)

			require.NoError(t, router.Send(ctx, []byte("h"), []byte("to new")))
			assert.Equal(t, []string{"to new"}, semS(semRecv(t, ctx, newer)))
			require.NoError(t, newer.Send(ctx, []byte("from new")))
			assert.Equal(t, []string{"h", "from new"}, semS(semRecv(t, ctx, router)))
			semNoMsg(t, old, 20*time.Millisecond)
			assert.Zero(t, router.Stats().Rejected)
			assert.Zero(t, router.Stats().Unroutable)
		})
	}
}

// With mandatory routing, a peer that has left is unreachable.
func TestSemRouterPeerGone(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	router := semNew(t, sockets.Router, sockets.WithRouterMandatory(true))
	addr := semListen(t, router, "tcp")
	d, err := sockets.NewDealer(sockets.WithRoutingID([]byte("gone")))
	require.NoError(t, err)
	require.NoError(t, d.Dial(addr))
	semWaitEvents(t, router, sockets.EventConnected, 1, 5*time.Second)
	require.NoError(t, router.Send(ctx, []byte("gone"), []byte("hi")))
	assert.Equal(t, []string{"hi"}, semS(semRecv(t, ctx, d)))
	require.NoError(t, d.Close())
	semEventually(t, 5*time.Second, func() bool { return router.Stats().Peers == 0 }, "the ROUTER to notice its peer left")
	require.ErrorIs(t, router.Send(ctx, []byte("gone"), []byte("hi")), sockets.ErrHostUnreachable)
}
