package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
