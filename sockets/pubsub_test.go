package sockets_test

// RFC 29 (PUB/SUB, XPUB/XSUB): prefix filtering on the first frame,
// counted subscriptions, a slow subscriber that costs only itself, XPUB's
// subscription messages and their forwarding through an XSUB/XPUB hop.

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// semSubSync makes sure that pub has acted on every (un)subscription sub
// sent so far: subscriptions travel in order on one pipe, so once a fresh
// control topic subscribed now comes back, everything before it is in
// effect. Control topics start with 0xff and never match the test data.
type semSubSync struct {
	t        *testing.T
	pub, sub *sockets.Socket
	round    int
}

func (y *semSubSync) topic() string { return fmt.Sprintf("\xffsync%04d", y.round) }

// sync returns once the PUB honours sub's subscriptions as they are now.
func (y *semSubSync) sync(ctx context.Context) {
	t := y.t
	t.Helper()
	y.round++
	topic := y.topic()
	require.NoError(t, y.sub.Subscribe(topic))
	deadline := time.Now().Add(10 * time.Second)
	for {
		require.NoError(t, y.pub.Send(ctx, []byte(topic)))
		m, err := semTryRecv(y.sub, 20*time.Millisecond)
		if err == nil {
			if string(m[0]) == topic {
				return
			}
			require.True(t, strings.HasPrefix(string(m[0]), "\xff"), "unexpected data message %q before the batch", semS(m))
		}
		require.False(t, time.Now().After(deadline), "subscription never took effect")
	}
}

// batch publishes msgs, then an end marker, and returns the data messages
// sub received in between (control messages left over from sync skipped).
func (y *semSubSync) batch(ctx context.Context, msgs [][][]byte) [][]string {
	t := y.t
	t.Helper()
	y.sync(ctx)
	for _, m := range msgs {
		require.NoError(t, y.pub.Send(ctx, m...))
	}
	// The end marker is sent again until it arrives. One exception to
	// sync's reasoning: right after Unsubscribe(""), the probe may have
	// come back through "" while the PUB had not yet taken the new control
	// topic, and an end marker sent between the two would be dropped.
	end := y.topic() + "end"
	var got [][]string
	for done := false; !done; {
		require.NoError(t, y.pub.Send(ctx, []byte(end)))
		for {
			m, err := semTryRecv(y.sub, 50*time.Millisecond)
			if err != nil {
				require.NoError(t, ctx.Err(), "the end marker never arrived")
				break // send it again
			}
			if string(m[0]) == end {
				done = true
				break
			}
			if !strings.HasPrefix(string(m[0]), "\xff") {
				got = append(got, semS(m))
			}
		}
	}
	for { // copies of the marker sent meanwhile
		if m, err := semTryRecv(y.sub, 20*time.Millisecond); err != nil || string(m[0]) != end {
			require.Error(t, err, "a data message after the end marker")
			break
		}
	}
	require.NoError(t, y.sub.Unsubscribe(y.topic()))
	return got
}

// semDialSub dials and waits for the connection. Subscriptions made before a
// SUB is connected are announced together when it connects, in no
// particular order (they are a set); the tests that rely on the order of
// subscription messages subscribe only once connected.
func semDialSub(t *testing.T, sub *sockets.Socket, addr string) {
	t.Helper()
	require.NoError(t, sub.Dial(addr))
	semWaitEvents(t, sub, sockets.EventConnected, 1, 5*time.Second)
}

func TestSemSubPrefixFilter(t *testing.T) {
	msgs := [][][]byte{
		semF("a"), semF("ab"), semF("abc"), semF("b"), semF("bc"), semF("bcd"),
		semF("bd"), semF("c"), semF("xa"), semF("xbc"), semF(""), semF("A"),
		semF("a", "multi"),              // first frame matches
		semF("z", "a"),                  // only a later frame matches: filtered out
		semF("bc", "", "x"),             // empty frames inside
		semF("q", "bc", "a"),            // filtered out
		{[]byte("a"), nil, []byte("z")}, // nil frame kept as empty
	}
	expect := func(prefixes ...string) [][]string {
		var out [][]string
		for _, m := range msgs {
			for _, p := range prefixes {
				if strings.HasPrefix(string(m[0]), p) {
					out = append(out, semS(m))
					break
				}
			}
		}
		return out
	}
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 15*time.Second)
			pub := semNew(t, sockets.Pub)
			addr := semListen(t, pub, tr)
			sub := semNew(t, sockets.Sub)
			semDialSub(t, sub, addr)
			y := &semSubSync{t: t, pub: pub, sub: sub}

			require.NoError(t, sub.Subscribe("a"))
			require.NoError(t, sub.Subscribe("bc"))
			got := y.batch(ctx, msgs)
			assert.Equal(t, expect("a", "bc"), got, "subscribed to a and bc")
			assert.Len(t, got, 8)

			require.NoError(t, sub.Unsubscribe("a"))
			assert.Equal(t, expect("bc"), y.batch(ctx, msgs), "after Unsubscribe(a)")

			// Counted: two Subscribe and one Unsubscribe leave it on.
			require.NoError(t, sub.Subscribe("bc"))
			require.NoError(t, sub.Unsubscribe("bc"))
			assert.Equal(t, expect("bc"), y.batch(ctx, msgs), "bc subscribed twice, unsubscribed once")
			require.NoError(t, sub.Unsubscribe("bc"))
			assert.Empty(t, y.batch(ctx, msgs), "no subscriptions left")

			// Unsubscribing what was never subscribed changes nothing.
			require.NoError(t, sub.Unsubscribe("nope"))
			require.NoError(t, sub.Subscribe(""))
			got = y.batch(ctx, msgs)
			assert.Equal(t, expect(""), got, "the empty prefix matches everything")
			assert.Len(t, got, len(msgs))

			require.NoError(t, sub.Unsubscribe(""))
			assert.Empty(t, y.batch(ctx, msgs))
		})
	}
}

// A SUB whose subscriptions are given at creation gets them applied on
// connect, and filtering on the SUB side also holds for messages that
// were already on their way when it unsubscribed.
func TestSemSubWithSubscribeOption(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 15*time.Second)
			pub := semNew(t, sockets.Pub)
			addr := semListen(t, pub, tr)
			sub := semNew(t, sockets.Sub, sockets.WithSubscribe("k"))
			semDialSub(t, sub, addr)
			y := &semSubSync{t: t, pub: pub, sub: sub}
			assert.Equal(t, [][]string{{"k1"}, {"kk"}}, y.batch(ctx, [][][]byte{semF("j"), semF("k1"), semF("kk")}))

			// Queue "k" messages at the SUB, then unsubscribe before reading:
			// none of them may be delivered.
			y.sync(ctx)
			for i := 0; i < 10; i++ {
				require.NoError(t, pub.Send(ctx, []byte(fmt.Sprintf("k%d", i))))
			}
			marker := y.topic() + "m"
			require.NoError(t, pub.Send(ctx, []byte(marker)))
			require.NoError(t, sub.Unsubscribe("k"))
			for {
				m := semRecv(t, ctx, sub)
				require.False(t, strings.HasPrefix(string(m[0]), "k"), "got %q after Unsubscribe", m[0])
				if string(m[0]) == marker {
					break
				}
			}
		})
	}
}

// A PUB with a send HWM of 100 feeds a fast SUB and a SUB that stops
// reading (receive HWM 10). 20000 messages of 4 KiB are published:
//   - every Send returns at once (PUB never waits for a subscriber);
//   - the fast SUB receives all 20000, in order: the test reads it in
//     chunks of 50 (half its HWM), so it never falls behind by more than
//     its queue holds and nothing of its share may be dropped;
//   - so every drop counted in Stats().Dropped is the slow SUB's, and
//     there are some: over inproc, where the pipe is exactly the SUB's
//     receive queue, all but at most 10 (minus leftover probes) of the
//     20000; over tcp/ipc, at least one and at most about 20000-100 (its
//     PUB queue alone takes 100; the kernel buffers take an unknown number);
//   - the heap grows by far less than the 80 MB published: a stalled
//     subscriber costs at most its HWMs.
func TestSemSlowSubscriberIsolated(t *testing.T) {
	const (
		total = 20000
		size  = 4096
		chunk = 50
	)
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 30*time.Second)
			pub := semNew(t, sockets.Pub, sockets.WithSendHWM(100), sockets.WithLinger(0))
			addr := semListen(t, pub, tr)
			fast := semNew(t, sockets.Sub, sockets.WithLinger(0))
			slow := semNew(t, sockets.Sub, sockets.WithRecvHWM(10), sockets.WithLinger(0))
			for _, s := range []*sockets.Socket{fast, slow} {
				require.NoError(t, s.Subscribe(""))
				require.NoError(t, s.Dial(addr))
			}
			// Both subscriptions in effect: each SUB reads one probe. This is
			// the only time the slow SUB ever reads.
			gotFast, gotSlow := false, false
			deadline := time.Now().Add(10 * time.Second)
			for !gotFast || !gotSlow {
				require.False(t, time.Now().After(deadline), "subscriptions never took effect")
				require.NoError(t, pub.Send(ctx, []byte("probe")))
				if !gotFast {
					_, err := semTryRecv(fast, 20*time.Millisecond)
					gotFast = err == nil
				}
				if !gotSlow {
					_, err := semTryRecv(slow, 20*time.Millisecond)
					gotSlow = err == nil
				}
			}
			dropped0 := pub.Stats().Dropped

			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)

			var maxSend time.Duration
			next := 0
			for sent := 0; sent < total; {
				for i := 0; i < chunk; i++ {
					b := make([]byte, size)
					b[0] = 'd'
					binary.BigEndian.PutUint32(b[1:], uint32(sent))
					t0 := time.Now()
					require.NoError(t, pub.Send(ctx, b))
					maxSend = max(maxSend, time.Since(t0))
					sent++
				}
				for next < sent {
					m := semRecv(t, ctx, fast)
					if string(m[0]) == "probe" {
						continue
					}
					require.Len(t, m[0], size)
					require.EqualValues(t, next, binary.BigEndian.Uint32(m[0][1:]), "fast SUB lost or reordered a message")
					next++
				}
			}
			semNoMsg(t, fast, 20*time.Millisecond)

			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)

			dropped := pub.Stats().Dropped - dropped0
			t.Logf("%s: dropped %d for the slow SUB, longest Send %v, heap growth %d KiB",
				tr, dropped, maxSend, growth>>10)
			assert.Less(t, maxSend, 2*time.Second, "a PUB Send waited")
			assert.Equal(t, total, next, "fast SUB got everything")
			if tr == "inproc" {
				// One shared queue holds the PUB's send HWM plus the SUB's
				// receive HWM (100 + 10), as in libzmq.
				assert.GreaterOrEqual(t, dropped, uint64(total-110))
				assert.LessOrEqual(t, dropped, uint64(total))
			} else {
				assert.Greater(t, dropped, uint64(0))
				// Its PUB queue took at least 100, less the odd probe that
				// may still have been queued there.
				assert.LessOrEqual(t, dropped, uint64(total-95))
			}
			assert.Less(t, growth, int64(24<<20), "heap grew by %d bytes", growth)
			assert.EqualValues(t, 2, pub.Stats().Peers, "the slow SUB is still connected")
		})
	}
}

// semXPubNext returns the next subscription message an XPUB delivers, as
// "+topic" or "-topic".
func semXPubNext(t *testing.T, ctx context.Context, x *sockets.Socket) string {
	t.Helper()
	m := semRecv(t, ctx, x)
	require.Len(t, m, 1)
	require.NotEmpty(t, m[0])
	switch m[0][0] {
	case 1:
		return "+" + string(m[0][1:])
	case 0:
		return "-" + string(m[0][1:])
	}
	t.Fatalf("not a subscription message: %q", m[0])
	return ""
}

// XPUB delivers the first subscription to a topic and the cancel of the
// last one (subscribers unsubscribing or leaving); with WithXPubVerbose it
// delivers every subscription. Each SUB follows its subscriptions with one
// to a topic of its own, which comes through in any mode: so the message
// that follows proves what did not come before it.
func TestSemXPubSubscriptions(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		for _, tr := range semTransports {
			t.Run(fmt.Sprintf("verbose=%v/%s", verbose, tr), func(t *testing.T) {
				ctx := semCtx(t, 15*time.Second)
				xpub := semNew(t, sockets.XPub, sockets.WithXPubVerbose(verbose))
				addr := semListen(t, xpub, tr)
				sub1 := semNew(t, sockets.Sub)
				sub2 := semNew(t, sockets.Sub)
				semDialSub(t, sub1, addr)
				semDialSub(t, sub2, addr)

				require.NoError(t, sub1.Subscribe("t"))
				require.NoError(t, sub1.Subscribe("s1"))
				assert.Equal(t, "+t", semXPubNext(t, ctx, xpub))
				assert.Equal(t, "+s1", semXPubNext(t, ctx, xpub))

				require.NoError(t, sub2.Subscribe("t"))
				require.NoError(t, sub2.Subscribe("s2"))
				if verbose {
					assert.Equal(t, "+t", semXPubNext(t, ctx, xpub), "verbose: every subscription")
				}
				assert.Equal(t, "+s2", semXPubNext(t, ctx, xpub), "t already had a subscriber")

				// Data still flows to both.
				require.NoError(t, xpub.Send(ctx, []byte("t-data")))
				assert.Equal(t, []string{"t-data"}, semS(semRecv(t, ctx, sub1)))
				assert.Equal(t, []string{"t-data"}, semS(semRecv(t, ctx, sub2)))

				// One of two subscribers leaves t: nothing; the last: "-t".
				require.NoError(t, sub1.Unsubscribe("t"))
				require.NoError(t, sub1.Subscribe("s1b"))
				assert.Equal(t, "+s1b", semXPubNext(t, ctx, xpub), "t still has a subscriber")
				require.NoError(t, sub2.Unsubscribe("t"))
				assert.Equal(t, "-t", semXPubNext(t, ctx, xpub))

				// Subscribe again from both, then disconnect them one by one:
				// the departure of the last subscriber cancels the topic.
				require.NoError(t, sub1.Subscribe("u"))
				require.NoError(t, sub1.Subscribe("s1c"))
				assert.Equal(t, "+u", semXPubNext(t, ctx, xpub))
				assert.Equal(t, "+s1c", semXPubNext(t, ctx, xpub))
				require.NoError(t, sub2.Subscribe("u"))
				require.NoError(t, sub2.Subscribe("s2c"))
				if verbose {
					assert.Equal(t, "+u", semXPubNext(t, ctx, xpub))
				}
				assert.Equal(t, "+s2c", semXPubNext(t, ctx, xpub))

				require.NoError(t, sub2.Close())
				got := []string{semXPubNext(t, ctx, xpub), semXPubNext(t, ctx, xpub)}
				sort.Strings(got)
				assert.Equal(t, []string{"-s2", "-s2c"}, got, "sub2 leaves: only its own topics go")
				require.NoError(t, sub1.Close())
				got = []string{semXPubNext(t, ctx, xpub), semXPubNext(t, ctx, xpub), semXPubNext(t, ctx, xpub), semXPubNext(t, ctx, xpub)}
				sort.Strings(got)
				assert.Equal(t, []string{"-s1", "-s1b", "-s1c", "-u"}, got, "the last subscriber leaves")
				semNoMsg(t, xpub, 30*time.Millisecond)
			})
		}
	}
}

// PUB -> XSUB [forwarder] XPUB -> SUB: the SUB's subscriptions reach the
// PUB through the hop (XPUB.Recv -> XSUB.Send), so the PUB filters at the
// source: the forwarder never even sees a topic nobody subscribed to.
// Cancels travel the same way.
func TestSemXSubXPubForwarding(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 15*time.Second)
			pub := semNew(t, sockets.Pub)
			upAddr := semListen(t, pub, tr)
			xsub := semNew(t, sockets.XSub)
			semDialSub(t, xsub, upAddr)
			xpub := semNew(t, sockets.XPub)
			downAddr := semListen(t, xpub, tr)
			sub := semNew(t, sockets.Sub)
			semDialSub(t, sub, downAddr)

			var mu sync.Mutex
			var seen []string // data topics the forwarder passed down, in order
			var subs []string // subscription messages it passed up
			fctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { // data: XSUB -> XPUB
				defer wg.Done()
				for {
					m, err := xsub.Recv(fctx)
					if err != nil {
						return
					}
					mu.Lock()
					seen = append(seen, string(m[0]))
					mu.Unlock()
					if err := xpub.Send(fctx, m...); err != nil {
						return
					}
				}
			}()
			go func() { // subscriptions: XPUB -> XSUB
				defer wg.Done()
				for {
					m, err := xpub.Recv(fctx)
					if err != nil {
						return
					}
					mu.Lock()
					subs = append(subs, fmt.Sprintf("%d%s", m[0][0], m[0][1:]))
					mu.Unlock()
					if err := xsub.Send(fctx, m...); err != nil {
						return
					}
				}
			}()
			defer func() { stop(); wg.Wait() }()

			// publishUntil publishes "weather", "news" and want until want
			// reaches the SUB; it returns the news messages the SUB got.
			publishUntil := func(want string) (news int) {
				deadline := time.Now().Add(10 * time.Second)
				for {
					require.False(t, time.Now().After(deadline), "%q never reached the SUB", want)
					require.NoError(t, pub.Send(ctx, []byte("weather")))
					require.NoError(t, pub.Send(ctx, []byte("news")))
					require.NoError(t, pub.Send(ctx, []byte(want)))
					for {
						m, err := semTryRecv(sub, 20*time.Millisecond)
						if err != nil {
							break
						}
						switch string(m[0]) {
						case want:
							return news
						case "news":
							news++
						default:
							t.Fatalf("SUB got %q", m[0])
						}
					}
				}
			}
			require.NoError(t, sub.Subscribe("news"))
			require.NoError(t, sub.Subscribe("sync1"))
			publishUntil("sync1")

			require.NoError(t, sub.Unsubscribe("news"))
			require.NoError(t, sub.Subscribe("sync2"))
			assert.Zero(t, publishUntil("sync2"), "news after Unsubscribe")
			require.NoError(t, pub.Send(ctx, []byte("news")))
			require.NoError(t, pub.Send(ctx, []byte("sync2-end")))
			assert.Equal(t, []string{"sync2-end"}, semS(semRecv(t, ctx, sub)))

			stop()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			assert.NotContains(t, seen, "weather", "the PUB sent a topic nobody subscribed to")
			assert.Contains(t, seen, "news")
			// After the PUB first sent sync2, it had the cancel of news.
			first := -1
			for i, s := range seen {
				if s == "sync2" {
					first = i
					break
				}
			}
			require.GreaterOrEqual(t, first, 0)
			assert.NotContains(t, seen[first:], "news", "the PUB kept sending news after the cancel")
			assert.Equal(t, []string{"1news", "1sync1", "0news", "1sync2"}, subs)
		})
	}
}

// A PUB sender that never blocks still lets its connection's writer run:
// with one P (GOMAXPROCS=1; with two, the GC's worker can hold the other)
// the writer runs only when the sender gives up the P, so a burst of
// 1.5×HWM messages used to fill the queue and drop the last third with a
// writer ready to send them. The PUB yields as its queue passes half the
// HWM, and loses nothing here. (inproc has no writer: the queue is the
// SUB's, drained by its reader.)
func TestSemPubYieldsToItsWriter(t *testing.T) {
	const hwm, burst = 1000, 1500
	for _, tr := range []string{"tcp", "ipc"} {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 30*time.Second)
			pub := semNew(t, sockets.Pub, sockets.WithSendHWM(hwm), sockets.WithLinger(0))
			addr := semListen(t, pub, tr)
			sub := semNew(t, sockets.Sub, sockets.WithSubscribe(""), sockets.WithLinger(0))
			require.NoError(t, sub.Dial(addr))
			rbAwaitSubscribed(t, ctx, pub, sub)
			for {
				if _, err := semTryRecv(sub, 50*time.Millisecond); err != nil {
					break // the probes are out of the way
				}
			}
			dropped := pub.Stats().Dropped

			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			for i := range burst {
				b := make([]byte, 16)
				binary.BigEndian.PutUint32(b, uint32(i))
				require.NoError(t, pub.Send(ctx, b))
			}
			if !assert.Equal(t, dropped, pub.Stats().Dropped, "the PUB dropped messages its writer could have sent") {
				return
			}
			for i := range burst {
				m := semRecv(t, ctx, sub)
				require.EqualValues(t, i, binary.BigEndian.Uint32(m[0]), "message %d", i)
			}
		})
	}
}
