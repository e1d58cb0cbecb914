package sockets_test

// Subscriptions as a bounded resource: per-subscriber limits on a PUB or
// XPUB (refused, counted, logged once, the connection kept), what holding
// them costs in memory, and that a subscription costs the same however
// many there are already.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// lockedBuffer is a log destination that connection goroutines may write
// to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An XPUB limited to 3 topics per subscriber: the 4th and 5th are refused
// (not applied, not shown to Recv), counted, and logged once; their
// cancels do nothing; the connection stays, and a cancel of an admitted
// topic makes room again.
func TestSubscriptionLimitCount(t *testing.T) {
	for _, tr := range []string{"tcp", "inproc"} {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 15*time.Second)
			var logs lockedBuffer
			xpub := semNew(t, sockets.XPub, sockets.WithMaxSubscriptions(3),
				sockets.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			addr := semListen(t, xpub, tr)
			sub := semNew(t, sockets.Sub)
			semDialSub(t, sub, addr)
			for _, topic := range []string{"a", "b", "c", "d", "e"} {
				require.NoError(t, sub.Subscribe(topic))
			}
			assert.Equal(t, "+a", semXPubNext(t, ctx, xpub))
			assert.Equal(t, "+b", semXPubNext(t, ctx, xpub))
			assert.Equal(t, "+c", semXPubNext(t, ctx, xpub))
			semEventually(t, 5*time.Second, func() bool { return xpub.Stats().SubscriptionsOverLimit == 2 }, "d and e refused")

			// Only a, b and c reach the subscriber.
			for _, m := range []string{"d1", "e1", "a1"} {
				require.NoError(t, xpub.Send(ctx, []byte(m)))
			}
			assert.Equal(t, []string{"a1"}, semS(semRecv(t, ctx, sub)), "d1 and e1 were not subscribed")

			// The cancels of refused topics change nothing (no underflow):
			// the set is still full, and the next cancel the XPUB sees is
			// a real one.
			require.NoError(t, sub.Unsubscribe("d"))
			require.NoError(t, sub.Unsubscribe("e"))
			require.NoError(t, sub.Subscribe("f"))
			semEventually(t, 5*time.Second, func() bool { return xpub.Stats().SubscriptionsOverLimit == 3 }, "f refused: the set is still full")
			require.NoError(t, sub.Unsubscribe("f"))
			require.NoError(t, sub.Unsubscribe("a"))
			assert.Equal(t, "-a", semXPubNext(t, ctx, xpub))
			require.NoError(t, sub.Subscribe("g"))
			assert.Equal(t, "+g", semXPubNext(t, ctx, xpub), "a's cancel made room")
			require.NoError(t, xpub.Send(ctx, []byte("g1")))
			assert.Equal(t, []string{"g1"}, semS(semRecv(t, ctx, sub)))

			st := xpub.Stats()
			assert.EqualValues(t, 3, st.SubscriptionsOverLimit)
			assert.Zero(t, st.SubscriptionsRefused, "the filter's counter is another one")
			assert.EqualValues(t, 1, st.Peers, "the subscriber is still connected")
			assert.Zero(t, st.Disconnects)
			assert.Equal(t, 1, strings.Count(logs.String(), "subscription over the limits"), "logged once per connection:\n%s", logs.String())
			semNoMsg(t, xpub, 20*time.Millisecond)
		})
	}
}

// The byte limit counts the lengths of a subscriber's topics together; a
// PUB refuses as an XPUB does, and a subscription it holds already is
// never refused.
func TestSubscriptionLimitBytes(t *testing.T) {
	ctx := semCtx(t, 15*time.Second)
	xpub := semNew(t, sockets.XPub, sockets.WithMaxSubscriptionBytes(10), sockets.WithXPubVerbose(true))
	addr := semListen(t, xpub, "tcp")
	sub := semNew(t, sockets.Sub)
	semDialSub(t, sub, addr)
	for _, topic := range []string{"aaaa", "bbbb", "cccc", "aaaa", "cc"} {
		require.NoError(t, sub.Subscribe(topic))
	}
	assert.Equal(t, "+aaaa", semXPubNext(t, ctx, xpub))
	assert.Equal(t, "+bbbb", semXPubNext(t, ctx, xpub))
	assert.Equal(t, "+aaaa", semXPubNext(t, ctx, xpub), "verbose: again, and not refused though the set is nearly full")
	assert.Equal(t, "+cc", semXPubNext(t, ctx, xpub), "10 bytes in all: fits")
	assert.EqualValues(t, 1, xpub.Stats().SubscriptionsOverLimit, "cccc would have made 12")

	pub := semNew(t, sockets.Pub, sockets.WithMaxSubscriptionBytes(4))
	paddr := semListen(t, pub, "tcp")
	psub := semNew(t, sockets.Sub, sockets.WithSubscribe("abcde"), sockets.WithSubscribe("ab"))
	require.NoError(t, psub.Dial(paddr))
	semEventually(t, 5*time.Second, func() bool { return pub.Stats().SubscriptionsOverLimit == 1 }, "abcde refused")
	for {
		require.NoError(t, pub.Send(ctx, []byte("abcdef")))
		if m, err := semTryRecv(psub, 20*time.Millisecond); err == nil {
			assert.Equal(t, []string{"abcdef"}, semS(m), "through ab")
			break
		}
		require.NoError(t, ctx.Err())
	}
}

func TestSubscriptionLimitOptions(t *testing.T) {
	for _, typ := range []sockets.Type{sockets.Sub, sockets.XSub, sockets.Push, sockets.Router} {
		_, err := sockets.New(typ, sockets.WithMaxSubscriptions(10))
		assert.ErrorIs(t, err, sockets.ErrBadOption, "%s", typ)
		_, err = sockets.New(typ, sockets.WithMaxSubscriptionBytes(10))
		assert.ErrorIs(t, err, sockets.ErrBadOption, "%s", typ)
	}
	for _, typ := range []sockets.Type{sockets.Pub, sockets.XPub} {
		_, err := sockets.New(typ, sockets.WithMaxSubscriptions(-1))
		assert.ErrorIs(t, err, sockets.ErrBadOption)
		_, err = sockets.New(typ, sockets.WithMaxSubscriptionBytes(-1))
		assert.ErrorIs(t, err, sockets.ErrBadOption)
		s, err := sockets.New(typ, sockets.WithMaxSubscriptions(0), sockets.WithMaxSubscriptionBytes(0))
		require.NoError(t, err, "0: no limit")
		require.NoError(t, s.Close())
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Holding subscriptions costs at most twice their bytes: one 8 MiB topic
// and 10,000 small ones, held by the SUB that made them and, over tcp, by
// the XPUB they went to (each subscriber's set, and the count of
// subscribers per topic, share one copy of each topic).
func TestSubscriptionMemory(t *testing.T) {
	const big, small, smallLen = 8 << 20, 10000, 16
	ctx := semCtx(t, 60*time.Second)
	xpub := semNew(t, sockets.XPub, sockets.WithMaxSubscriptionBytes(16<<20), sockets.WithMaxMsgSize(0))
	addr := semListen(t, xpub, "tcp")
	// The SUB announces everything at once when it connects.
	sub := semNew(t, sockets.Sub, sockets.WithSendHWM(0))
	bytesHeld := big + small*smallLen

	base := liveHeap()
	{
		topic := bytes.Repeat([]byte{'B'}, big)
		require.NoError(t, sub.Subscribe(string(topic)))
	}
	for i := range small {
		require.NoError(t, sub.Subscribe(fmt.Sprintf("small-%010d", i)))
	}
	afterSub := liveHeap()
	subCost := int64(afterSub) - int64(base)
	t.Logf("SUB: %d bytes of topics cost %d bytes (%.2fx)", bytesHeld, subCost, float64(subCost)/float64(bytesHeld))
	assert.LessOrEqual(t, subCost, int64(2*bytesHeld), "the SUB's record")

	require.NoError(t, sub.Dial(addr))
	for got := 0; got < small+1; got++ {
		m, err := xpub.Recv(ctx)
		require.NoError(t, err, "after %d subscriptions", got)
		require.Equal(t, byte(1), m[0][0])
	}
	afterPub := liveHeap()
	pubCost := int64(afterPub) - int64(afterSub)
	t.Logf("XPUB: %d bytes of topics cost %d bytes (%.2fx), with the connection's buffers", bytesHeld, pubCost, float64(pubCost)/float64(bytesHeld))
	assert.LessOrEqual(t, pubCost, int64(2*bytesHeld), "the XPUB's sets")
	runtime.KeepAlive(sub)
	runtime.KeepAlive(xpub)
}

// A SUB's Subscribe costs a few allocations and bytes in the length of the
// topic, not in the number of subscriptions it holds (which the old
// snapshot copied on every new topic).
func TestSubscribeCostIndependentOfCount(t *testing.T) {
	for _, typ := range []sockets.Type{sockets.Sub, sockets.XSub} {
		t.Run(string(typ), func(t *testing.T) {
			s := semNew(t, typ)
			ctx := context.Background()
			subscribe := func(i int) {
				topic := fmt.Sprintf("topic-%08d", i)
				if typ == sockets.Sub {
					require.NoError(t, s.Subscribe(topic))
				} else {
					require.NoError(t, s.Send(ctx, append([]byte{1}, topic...)))
				}
			}
			const n = 10000
			for i := range n {
				subscribe(i)
			}
			next := n
			allocs := testing.AllocsPerRun(100, func() { subscribe(next); next++ })
			assert.LessOrEqual(t, allocs, 10.0, "allocations per subscription with %d held", n)

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const k = 200
			for range k {
				subscribe(next)
				next++
			}
			runtime.ReadMemStats(&after)
			perSub := (after.TotalAlloc - before.TotalAlloc) / k
			assert.LessOrEqual(t, perSub, uint64(1024), "bytes allocated per subscription with %d held", n)
		})
	}
}
