package sockets_test

import (
	"context"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

func batchMsg(i int, size int) sockets.Msg {
	b := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(b, uint32(i))
	return sockets.Msg{Head: b}
}

// SendMsgs and RecvMsgs move a stream in batches, over every transport:
// every message arrives once, in order, and the counters count each.
func TestBatchSendRecvInOrder(t *testing.T) {
	const n = 5000
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 20*time.Second)
			push := semNew(t, sockets.Push)
			pull := semNew(t, sockets.Pull)
			require.NoError(t, push.Dial(semListen(t, pull, tr)))
			done := make(chan error, 1)
			go func() {
				// Batches of every length from 1 to 97, larger than any
				// queue's room at times: SendMsgs waits as SendMsg does.
				for i, k := 0, 1; i < n; k = k%97 + 1 {
					ms := make([]sockets.Msg, 0, k)
					for j := 0; j < k && i < n; j++ {
						ms = append(ms, batchMsg(i, 16+i%200))
						i++
					}
					sent, err := push.SendMsgs(ctx, ms)
					if err != nil {
						done <- err
						return
					}
					if sent != len(ms) {
						done <- assert.AnError
						return
					}
				}
				done <- nil
			}()
			dst := make([]sockets.Msg, 64)
			got, batches, bytes := 0, 0, 0
			for got < n {
				k, err := pull.RecvMsgs(ctx, dst)
				require.NoError(t, err)
				require.Positive(t, k)
				require.LessOrEqual(t, k, len(dst))
				for _, m := range dst[:k] {
					require.Equal(t, uint32(got), binary.BigEndian.Uint32(m.Head), "message %d out of order", got)
					require.Len(t, m.Head, 16+got%200)
					bytes += m.Size()
					got++
				}
				batches++
			}
			require.NoError(t, <-done)
			semNoMsg(t, pull, 20*time.Millisecond)
			assert.EqualValues(t, n, push.Stats().MsgsOut)
			assert.EqualValues(t, n, pull.Stats().MsgsIn)
			assert.EqualValues(t, bytes, pull.Stats().BytesIn)
			assert.EqualValues(t, bytes, push.Stats().BytesOut)
			t.Logf("%d messages in %d receives", n, batches)
		})
	}
}

// RecvMsgs never waits for more than the first message: with three queued
// and room for ten it returns the three; with none, it waits as RecvMsg
// does, until ctx ends.
func TestBatchRecvTakesOnlyWhatIsQueued(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	push := semNew(t, sockets.Push)
	pull := semNew(t, sockets.Pull)
	require.NoError(t, push.Dial(semListen(t, pull, "inproc")))
	for i := range 3 {
		require.NoError(t, push.SendMsg(ctx, batchMsg(i, 4)))
	}
	// Over inproc a send stores into the PULL's own queue.
	dst := make([]sockets.Msg, 10)
	n, err := pull.RecvMsgs(ctx, dst)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	for i := range 3 {
		assert.Equal(t, uint32(i), binary.BigEndian.Uint32(dst[i].Head))
	}

	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	n, err = pull.RecvMsgs(short, dst)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, n)

	n, err = pull.RecvMsgs(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n, "no room: nothing taken")
}

// A SendMsgs that meets a full queue sends what fits, then waits; when
// ctx ends it says how many went, exactly as many as a loop of TrySendMsg
// would have got in.
func TestBatchSendStopsAtTheHWM(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	room := func() int {
		push := semNew(t, sockets.Push, sockets.WithSendHWM(5), sockets.WithLinger(0))
		pull := semNew(t, sockets.Pull, sockets.WithRecvHWM(3))
		require.NoError(t, push.Dial(semListen(t, pull, "inproc")))
		semWaitEvents(t, push, sockets.EventConnected, 1, 5*time.Second)
		n := 0
		for push.TrySendMsg(batchMsg(n, 4)) == nil {
			n++
		}
		return n
	}()
	require.Positive(t, room)

	push := semNew(t, sockets.Push, sockets.WithSendHWM(5))
	pull := semNew(t, sockets.Pull, sockets.WithRecvHWM(3))
	require.NoError(t, push.Dial(semListen(t, pull, "inproc")))
	semWaitEvents(t, push, sockets.EventConnected, 1, 5*time.Second)
	ms := make([]sockets.Msg, room+7)
	for i := range ms {
		ms[i] = batchMsg(i, 4)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	n, err := push.SendMsgs(short, ms)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, room, n)
	assert.EqualValues(t, room, push.Stats().MsgsOut)

	// The rest goes once the PULL reads, in order after the first.
	res := make(chan error, 1)
	go func() {
		_, err := push.SendMsgs(ctx, ms[n:])
		res <- err
	}()
	for i := range ms {
		m, err := pull.RecvMsg(ctx)
		require.NoError(t, err)
		require.Equal(t, uint32(i), binary.BigEndian.Uint32(m.Head))
	}
	require.NoError(t, <-res)

	require.NoError(t, push.Close())
	n, err = push.SendMsgs(ctx, ms[:1])
	require.ErrorIs(t, err, sockets.ErrClosed)
	require.Zero(t, n)
	_, err = pull.RecvMsgs(short, make([]sockets.Msg, 1))
	require.Error(t, err)
}

// With several peers SendMsgs deals the batch out round-robin, one message
// each in turn, as SendMsg does.
func TestBatchSendRoundRobin(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	push := semNew(t, sockets.Push)
	addr := semListen(t, push, "inproc")
	pulls := make([]*sockets.Socket, 3)
	for i := range pulls {
		pulls[i] = semNew(t, sockets.Pull)
		require.NoError(t, pulls[i].Dial(addr))
	}
	semWaitEvents(t, push, sockets.EventConnected, 3, 10*time.Second)
	ms := make([]sockets.Msg, 30)
	for i := range ms {
		ms[i] = batchMsg(i, 4)
	}
	n, err := push.SendMsgs(ctx, ms)
	require.NoError(t, err)
	require.Equal(t, 30, n)
	var first [3]uint32
	dst := make([]sockets.Msg, 64)
	for i, pull := range pulls {
		k, err := pull.RecvMsgs(ctx, dst)
		require.NoError(t, err)
		require.Equal(t, 10, k, "PULL %d", i)
		first[i] = binary.BigEndian.Uint32(dst[0].Head)
		for j := 1; j < k; j++ {
			require.Equal(t, binary.BigEndian.Uint32(dst[j-1].Head)+3, binary.BigEndian.Uint32(dst[j].Head))
		}
	}
	assert.ElementsMatch(t, []uint32{0, 1, 2}, first[:])
}

// The types that take messages one by one give the same results: REQ and
// REP one message a call, keeping their alternation; ROUTER and SUB
// everything queued; a socket with hooks shows each message to them.
func TestBatchOtherTypes(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)

	req := semNew(t, sockets.Req)
	rep := semNew(t, sockets.Rep)
	require.NoError(t, req.Dial(semListen(t, rep, "inproc")))
	n, err := req.SendMsgs(ctx, []sockets.Msg{sockets.MsgOf([]byte("a")), sockets.MsgOf([]byte("b"))})
	require.Error(t, err, "a REQ sends one request, then must receive")
	require.Equal(t, 1, n)
	dst := make([]sockets.Msg, 4)
	n, err = rep.RecvMsgs(ctx, dst)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, "a", string(dst[0].Head))
	n, err = rep.SendMsgs(ctx, []sockets.Msg{sockets.MsgOf([]byte("A"))})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = req.RecvMsgs(ctx, dst)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, "A", string(dst[0].Head))

	router := semNew(t, sockets.Router)
	dealer := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte("d1")))
	routerAddr := semListen(t, router, "inproc")
	require.NoError(t, dealer.Dial(routerAddr))
	n, err = dealer.SendMsgs(ctx, []sockets.Msg{sockets.MsgOf([]byte("x")), sockets.MsgOf([]byte("y"))})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	batchRecvAll(t, ctx, router, dst[:2])
	assert.Equal(t, [][]byte{[]byte("d1"), []byte("x")}, dst[0].Frames())
	assert.Equal(t, [][]byte{[]byte("d1"), []byte("y")}, dst[1].Frames())
	n, err = router.SendMsgs(ctx, []sockets.Msg{sockets.MsgOf([]byte("d1"), []byte("X")), sockets.MsgOf([]byte("d1"), []byte("Y"))})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	batchRecvAll(t, ctx, dealer, dst[:2])
	assert.Equal(t, "X", string(dst[0].Head))
	assert.Equal(t, "Y", string(dst[1].Head))

	// With two peers each message comes with its own peer's id, each
	// peer's in order.
	dealer2 := semNew(t, sockets.Dealer, sockets.WithRoutingID([]byte("d2")))
	require.NoError(t, dealer2.Dial(routerAddr))
	semWaitEvents(t, dealer2, sockets.EventConnected, 1, 5*time.Second)
	for i := range 3 {
		require.NoError(t, dealer.Send(ctx, []byte("x"+strconv.Itoa(i))))
		require.NoError(t, dealer2.Send(ctx, []byte("y"+strconv.Itoa(i))))
	}
	six := make([]sockets.Msg, 6)
	batchRecvAll(t, ctx, router, six)
	var fromD1, fromD2 []string
	for _, m := range six {
		require.Equal(t, 2, m.Len())
		switch string(m.Head) {
		case "d1":
			fromD1 = append(fromD1, string(m.Frame(1)))
		case "d2":
			fromD2 = append(fromD2, string(m.Frame(1)))
		default:
			t.Fatalf("message from %q", m.Head)
		}
	}
	assert.Equal(t, []string{"x0", "x1", "x2"}, fromD1)
	assert.Equal(t, []string{"y0", "y1", "y2"}, fromD2)

	var seen atomic.Int64
	hooked := semNew(t, sockets.Pull, sockets.WithHooks(batchCounter{&seen}))
	push := semNew(t, sockets.Push, sockets.WithHooks(batchCounter{&seen}))
	require.NoError(t, push.Dial(semListen(t, hooked, "inproc")))
	ms := []sockets.Msg{batchMsg(0, 4), batchMsg(1, 4), batchMsg(2, 4)}
	n, err = push.SendMsgs(ctx, ms)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	batchRecvAll(t, ctx, hooked, dst[:3])
	assert.EqualValues(t, 6, seen.Load(), "each message shown to the send hook and to the receive hook")
	assert.EqualValues(t, 3, hooked.Stats().MsgsIn)
}

// batchRecvAll fills dst with RecvMsgs, however many calls that takes.
func batchRecvAll(t *testing.T, ctx context.Context, s *sockets.Socket, dst []sockets.Msg) {
	t.Helper()
	for got := 0; got < len(dst); {
		k, err := s.RecvMsgs(ctx, dst[got:])
		require.NoError(t, err)
		got += k
	}
}

type batchCounter struct{ n *atomic.Int64 }

func (c batchCounter) OnSend(context.Context, sockets.Msg)               { c.n.Add(1) }
func (c batchCounter) OnRecv(context.Context, sockets.Msg, sockets.Peer) { c.n.Add(1) }

// PUB's SendMsgs gives each message to the subscribers it matches, as
// SendMsg does; SUB's RecvMsgs hands over only what matches its
// subscriptions, in order.
func TestBatchPubSub(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			pub := semNew(t, sockets.Pub)
			addr := semListen(t, pub, tr)
			subA := semNew(t, sockets.Sub, sockets.WithSubscribe("a"))
			subAll := semNew(t, sockets.Sub, sockets.WithSubscribe(""))
			require.NoError(t, subA.Dial(addr))
			require.NoError(t, subAll.Dial(addr))
			// Both subscriptions have reached the PUB once a probe reaches
			// each SUB.
			var seenA, seenAll bool
			semEventually(t, 5*time.Second, func() bool {
				_ = pub.Send(ctx, []byte("a-probe"))
				_, errA := semTryRecv(subA, 5*time.Millisecond)
				_, errAll := semTryRecv(subAll, 5*time.Millisecond)
				seenA, seenAll = seenA || errA == nil, seenAll || errAll == nil
				return seenA && seenAll
			}, "the subscriptions never arrived")
			var ms []sockets.Msg
			var want []string
			for i := range 200 {
				topic := "a"
				if i%3 == 0 {
					topic = "b"
				}
				body := topic + strconv.Itoa(i)
				ms = append(ms, sockets.MsgOf([]byte(body)))
				if topic == "a" {
					want = append(want, body)
				}
			}
			before := pub.Stats().MsgsOut
			n, err := pub.SendMsgs(ctx, ms)
			require.NoError(t, err)
			require.Equal(t, 200, n)
			assert.EqualValues(t, 200, pub.Stats().MsgsOut-before)
			dst := make([]sockets.Msg, 16)
			var got []string
			for len(got) < len(want) {
				k, err := subA.RecvMsgs(ctx, dst)
				require.NoError(t, err)
				for _, m := range dst[:k] {
					if string(m.Head) != "a-probe" {
						got = append(got, string(m.Head))
					}
				}
			}
			assert.Equal(t, want, got)
			all := 0
			for all < 200 {
				k, err := subAll.RecvMsgs(ctx, dst)
				require.NoError(t, err)
				for _, m := range dst[:k] {
					if string(m.Head) != "a-probe" {
						all++
					}
				}
			}
			semNoMsg(t, subA, 20*time.Millisecond)
			if tr != "inproc" {
				return
			}
			// Over inproc a send stores into the SUB's queue at once: what
			// it holds for a topic it has since left is not handed over.
			n, err = pub.SendMsgs(ctx, []sockets.Msg{sockets.MsgOf([]byte("a-late")), sockets.MsgOf([]byte("a-later"))})
			require.NoError(t, err)
			require.Equal(t, 2, n)
			require.NoError(t, subA.Unsubscribe("a"))
			short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			k, err := subA.RecvMsgs(short, dst)
			require.ErrorIs(t, err, context.DeadlineExceeded, "got %d messages", k)
		})
	}
}
