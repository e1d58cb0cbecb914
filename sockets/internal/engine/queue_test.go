package engine

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func msgs(q *Queue) []string {
	var out []string
	for {
		m, ok, _ := q.TryPop()
		if !ok {
			return out
		}
		out = append(out, string(m.Head))
	}
}

func TestQueueHWMAndWakeups(t *testing.T) {
	q := NewQueue(2)
	readable, writable := 0, 0
	q.SetReadable(func() { readable++ })
	q.SetWritable(func() { writable++ })
	assert.Equal(t, Pushed, q.TryPush(Msg{Head: []byte("a")}))
	assert.Equal(t, Pushed, q.TryPush(Msg{Head: []byte("b")}))
	assert.Equal(t, Full, q.TryPush(Msg{Head: []byte("c")}))
	assert.Equal(t, 1, readable, "only the empty→non-empty transition wakes the reader")
	_, ok, _ := q.TryPop()
	assert.True(t, ok)
	assert.Equal(t, 1, writable, "full→not-full wakes the writer")
	q.SetHWM(0)
	for i := 0; i < 100; i++ {
		assert.Equal(t, Pushed, q.TryPush(Msg{Head: []byte("x")}), "0 means no limit")
	}
	q.Close()
	assert.Equal(t, Closed, q.TryPush(Msg{}))
	assert.Len(t, msgs(q), 101, "what was queued stays readable after Close")
	_, ok, closed := q.TryPop()
	assert.False(t, ok)
	assert.True(t, closed)
}

func TestQueueRemoveIfAndLateIntercept(t *testing.T) {
	q := NewQueue(0)
	for _, s := range []string{"\x01a", "data", "\x00a", "more"} {
		q.TryPush(Msg{Head: []byte(s)})
	}
	assert.Equal(t, 2, q.RemoveIf(func(m Msg) bool { return m.Head[0] <= 1 }))
	assert.Equal(t, []string{"data", "more"}, msgs(q))

	// Messages offered before the interceptor existed pass through it when
	// it is installed; later ones pass through Offer.
	for _, s := range []string{"keep1", "drop", "keep2"} {
		q.Offer(Msg{Head: []byte(s)})
	}
	var seen []string
	q.SetIntercept(func(m Msg) bool { seen = append(seen, string(m.Head)); return string(m.Head) != "drop" })
	q.Offer(Msg{Head: []byte("drop")})
	q.Offer(Msg{Head: []byte("keep3")})
	assert.Equal(t, []string{"keep1", "drop", "keep2", "drop", "keep3"}, seen)
	assert.Equal(t, []string{"keep1", "keep2", "keep3"}, msgs(q))
}

func batchOf(ss ...string) []Msg {
	out := make([]Msg, len(ss))
	for i, s := range ss {
		out[i] = Msg{Head: []byte(s)}
	}
	return out
}

func TestQueueOfferBatch(t *testing.T) {
	q := NewQueue(3)
	readable := 0
	q.SetReadable(func() { readable++ })
	n, r, kept := q.OfferBatch(batchOf("a", "b", "c", "d", "e"))
	assert.Equal(t, 3, n, "stores up to the high-water mark")
	assert.Equal(t, Full, r)
	assert.False(t, kept)
	assert.Equal(t, 1, readable, "one wake-up for the whole batch")
	assert.Equal(t, []string{"a", "b", "c"}, msgs(q))
	n, r, _ = q.OfferBatch(batchOf("d", "e"))
	assert.Equal(t, 2, n)
	assert.Equal(t, Pushed, r)
	assert.Equal(t, []string{"d", "e"}, msgs(q))

	// With an interceptor every message goes through it once, in order;
	// one it kept but found no room for is reported as kept.
	var seen []string
	q.SetIntercept(func(m Msg) bool { seen = append(seen, string(m.Head)); return m.Head[0] != '-' })
	n, r, kept = q.OfferBatch(batchOf("x", "-y", "z", "w", "v", "u"))
	assert.Equal(t, 4, n, "x, -y (consumed), z, w")
	assert.Equal(t, Full, r)
	assert.True(t, kept, "v passed the interceptor and waits for room")
	assert.Equal(t, []string{"x", "-y", "z", "w", "v"}, seen)
	assert.Equal(t, []string{"x", "z", "w"}, msgs(q))

	n, r, _ = closedQueue().OfferBatch(batchOf("a"))
	assert.Equal(t, 0, n)
	assert.Equal(t, Closed, r)
}

func closedQueue() *Queue {
	q := NewQueue(0)
	q.Close()
	return q
}

func TestDecoderMsgBuffered(t *testing.T) {
	wire := encode(t, Msg{Head: []byte("one")}, Msg{Head: []byte("a"), Tail: [][]byte{make([]byte, 300)}})
	for cut := 0; cut <= len(wire); cut++ {
		d := NewDecoder(bytes.NewReader(nil), 0)
		d.buf, d.wpos = append([]byte(nil), wire[:cut]...), cut
		want := cut >= 5 // "one" is 2+3 bytes
		assert.Equal(t, want, d.MsgBuffered(), "cut at %d", cut)
		if want {
			_, _, err := d.ReadMsg()
			assert.NoError(t, err)
			assert.Equal(t, cut == len(wire), d.MsgBuffered(), "the multipart message is whole only at the end, cut at %d", cut)
		}
	}
	big := encode(t, Msg{Head: make([]byte, bigFrame)})
	d := NewDecoder(bytes.NewReader(nil), 0)
	d.buf, d.wpos = big, len(big)
	assert.False(t, d.MsgBuffered(), "big frames are read into their own buffer, never counted as buffered")
}

func TestQueueConflate(t *testing.T) {
	m := func(s string) Msg { return Msg{Head: []byte(s)} }
	var replaced atomic.Uint64
	q := NewQueue(1)
	readable := 0
	q.SetReadable(func() { readable++ })
	q.SetConflate(&replaced)
	q.SetHWM(1) // ignored: one message at most, never full
	for _, s := range []string{"a", "b", "c"} {
		assert.Equal(t, Pushed, q.TryPush(m(s)))
	}
	assert.Equal(t, 1, q.Len())
	assert.Equal(t, 1, readable, "a replacement is no new arrival")
	assert.Equal(t, []string{"c"}, msgs(q))
	assert.EqualValues(t, 2, replaced.Load())

	// A batch keeps its newest, onto an empty queue and onto a full one.
	n, r, _ := q.OfferBatch([]Msg{m("d"), m("e"), m("f")})
	assert.Equal(t, 3, n)
	assert.Equal(t, Pushed, r)
	assert.EqualValues(t, 4, replaced.Load())
	n, _, _ = q.OfferBatch([]Msg{m("g"), m("h")})
	assert.Equal(t, 2, n)
	assert.EqualValues(t, 6, replaced.Load(), "f and g gave way")
	assert.Equal(t, []string{"h"}, msgs(q))

	// Through an interceptor: only what it keeps takes the place.
	q.SetIntercept(func(m Msg) bool { return m.Head[0] != 'x' })
	n, _, _ = q.OfferBatch([]Msg{m("i"), m("x1"), m("j"), m("x2")})
	assert.Equal(t, 4, n)
	assert.Equal(t, []string{"j"}, msgs(q))

	// Conflating a queue that already holds several keeps the newest.
	replaced.Store(0)
	q2 := NewQueue(0)
	for _, s := range []string{"a", "b", "c"} {
		q2.TryPush(m(s))
	}
	q2.SetConflate(&replaced)
	assert.EqualValues(t, 2, replaced.Load())
	assert.Equal(t, []string{"c"}, msgs(q2))
	q2.Close()
	assert.Equal(t, Closed, q2.TryPush(m("z")))
}

// Each message keeps the source that was set when it was stored, through
// growth, removal and conflation.
func TestQueueSources(t *testing.T) {
	m := func(s string) Msg { return Msg{Head: []byte(s)} }
	a, b := &Peer{UserID: "a"}, &Peer{UserID: "b"}
	q := NewQueue(0)
	q.TryPush(m("before"))
	q.SetSource(a)
	for i := 0; i < 40; i++ {
		q.TryPush(m("a"))
	}
	q.OfferBatch([]Msg{m("a-drop"), m("a")})
	q.SetSource(b)
	for i := 0; i < 40; i++ { // past the first ring of 64: it grows
		q.OfferBatch([]Msg{m("b"), m("b-drop")})
	}
	assert.Equal(t, 41, q.RemoveIf(func(x Msg) bool { return bytes.HasSuffix(x.Head, []byte("-drop")) }))
	var got []string
	for {
		x, from, ok, _ := q.TryPopFrom()
		if !ok {
			break
		}
		name := "nil"
		if from != nil {
			name = from.UserID
		}
		if string(x.Head) != name && !(string(x.Head) == "before" && name == "nil") {
			t.Fatalf("%q came from %s", x.Head, name)
		}
		got = append(got, string(x.Head))
	}
	assert.Len(t, got, 1+41+40)

	q.SetConflate(nil)
	q.SetSource(a)
	q.TryPush(m("x"))
	q.SetSource(b)
	q.TryPush(m("y"))
	x, from, ok, _ := q.TryPopFrom()
	assert.True(t, ok)
	assert.Equal(t, "y", string(x.Head))
	assert.Same(t, b, from, "the newest replaced the older with its source")
}

func TestQueuePoolBoundsAllQueuesAndWakesThem(t *testing.T) {
	pool := &Pool{Limit: 1000}
	a, b := NewQueue(0), NewQueue(0)
	a.SetPool(pool)
	b.SetPool(pool)
	var wokenB int
	b.SetWritable(func() { wokenB++ })
	msg := Msg{Head: make([]byte, 200-FrameOverhead)} // costs 200
	for range 5 {
		require.Equal(t, Pushed, a.TryPush(msg))
	}
	assert.Equal(t, int64(1000), pool.Used())
	assert.Equal(t, Full, b.TryPush(msg), "b is empty, but the pool is full")
	assert.False(t, b.HasRoom())
	_, ok, _ := a.TryPop()
	require.True(t, ok)
	assert.Equal(t, 1, wokenB, "a pop from a woke the producer of b")
	assert.Equal(t, Pushed, b.TryPush(msg))

	// A queue leaving its pool gives back what it holds.
	a.Unpool()
	assert.Equal(t, int64(200), pool.Used())
	b.Unpool()
	assert.Zero(t, pool.Used())
}

// TryPushBatch stores as TryPush would one by one, under one lock: up to
// the high-water mark, the byte bound and the pool's limit, each checked
// before a message goes in; a batch that finds no room at all leaves its
// producer to be woken at the low-water mark, as TryPush does.
func TestQueueTryPushBatch(t *testing.T) {
	q := NewQueue(4)
	readable, writable := 0, 0
	q.SetReadable(func() { readable++ })
	q.SetWritable(func() { writable++ })
	n, r := q.TryPushBatch(batchOf("a", "b", "c", "d", "e", "f"))
	assert.Equal(t, 4, n, "stores up to the high-water mark")
	assert.Equal(t, Full, r)
	assert.Equal(t, 1, readable, "one wake-up for the whole batch")
	n, r = q.TryPushBatch(batchOf("e", "f"))
	assert.Equal(t, 0, n)
	assert.Equal(t, Full, r)
	_, ok, _ := q.TryPop()
	require.True(t, ok)
	assert.Zero(t, writable, "a refused producer is woken at the low-water mark, not at the first pop")
	_, ok, _ = q.TryPop()
	require.True(t, ok)
	assert.Equal(t, 1, writable)
	n, r = q.TryPushBatch(batchOf("e", "f"))
	assert.Equal(t, 2, n)
	assert.Equal(t, Pushed, r)
	assert.Equal(t, []string{"c", "d", "e", "f"}, msgs(q))
	n, r = q.TryPushBatch(nil)
	assert.Equal(t, 0, n)
	assert.Equal(t, Pushed, r)

	// The byte bound and the pool: each message is checked before it goes
	// in, so the batch stops where a message by itself would be refused.
	pool := &Pool{Limit: 500}
	b := NewQueue(0)
	b.SetPool(pool)
	msg := Msg{Head: make([]byte, 200-FrameOverhead)} // costs 200
	n, r = b.TryPushBatch([]Msg{msg, msg, msg, msg})
	assert.Equal(t, 3, n, "200, 400, 600: the third goes in below the limit, as TryPush's would")
	assert.Equal(t, Full, r)
	assert.Equal(t, int64(600), pool.Used())
	assert.Equal(t, Full, b.TryPush(msg))
	c := NewQueue(0)
	c.SetMaxBytes(300)
	n, _ = c.TryPushBatch([]Msg{msg, msg, msg})
	assert.Equal(t, 2, n)

	// Conflating keeps the newest; closed takes nothing.
	var replaced atomic.Uint64
	cq := NewQueue(0)
	cq.SetConflate(&replaced)
	n, r = cq.TryPushBatch(batchOf("1", "2", "3"))
	assert.Equal(t, 3, n)
	assert.Equal(t, Pushed, r)
	assert.Equal(t, []string{"3"}, msgs(cq))
	assert.EqualValues(t, 2, replaced.Load())
	n, r = closedQueue().TryPushBatch(batchOf("a"))
	assert.Equal(t, 0, n)
	assert.Equal(t, Closed, r)
}

// TakeMark reports the pushes that bring a queue to half its HWM and to
// each further eighth, once each, and again after the queue drains.
func TestQueueTakeMark(t *testing.T) {
	q := NewQueue(1000)
	var at []int
	fill := func() {
		for q.TryPush(Msg{Head: []byte("x")}) == Pushed {
			if q.TakeMark() {
				at = append(at, q.Len())
			}
		}
	}
	fill()
	assert.Equal(t, []int{500, 625, 750, 875, 1000}, at)
	assert.False(t, q.TakeMark(), "a mark is reported once")
	for q.Len() > 600 {
		_, _, _ = q.TryPop()
	}
	at = nil
	fill()
	assert.Equal(t, []int{625, 750, 875, 1000}, at)
	assert.False(t, NewQueue(0).TakeMark())
}
