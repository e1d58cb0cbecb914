package baseline

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
)

func msg(size int, seq uint64) []byte {
	p := make([]byte, size)
	stamp(p, seq)
	return p
}

// The consumer's account tells loss (gaps), reordering, duplicates and
// malformed messages apart, and stops at the end mark.
func TestTallyAccounting(t *testing.T) {
	tl := &tally{size: 16}
	for _, seq := range []uint64{0, 1, 3, 2, 5, 5, 1, 700} {
		assert.False(t, count(tl, msg(16, seq)))
	}
	assert.False(t, count(tl, string(msg(16, 6))), "a string payload counts the same")
	assert.False(t, count(tl, msg(15, 8)), "wrong size")
	assert.False(t, count(tl, []byte{1, 2}), "shorter than a sequence number")
	assert.False(t, count(tl, msg(16, maxSeq)), "impossible sequence number")
	assert.True(t, count(tl, endMessage()))

	// 0 1 3 2 5 6 700 arrived once; 2 and 6 after a later one; 5 and 1 twice.
	assert.Equal(t, uint64(7), tl.received.Load())
	assert.Equal(t, uint64(2), tl.reordered)
	assert.Equal(t, uint64(2), tl.dup)
	assert.Equal(t, uint64(3), tl.bad)

	start := time.Now().Add(-time.Second)
	row := bench.Row{Size: 16}
	fill(&row, start, cpuTime(), 10, 500*time.Millisecond, tl, nil)
	assert.Equal(t, uint64(10), row.Sent)
	assert.Equal(t, uint64(7), row.Received)
	assert.Equal(t, uint64(3), row.Lost)
	assert.Equal(t, uint64(2), row.Reordered)
	assert.InDelta(t, 20, row.SendRate, 1e-9)
	assert.InDelta(t, 20*16/1e6, row.SendMBps, 1e-12)
	assert.InDelta(t, 7, row.RecvRate, 0.1)
	assert.Contains(t, row.Err, "2 duplicate messages")
	assert.Contains(t, row.Err, "3 malformed messages")
}

func TestLimits(t *testing.T) {
	l := newLimits(0, 0)
	assert.Equal(t, DefaultDuration, l.d)
	start := time.Now()
	assert.True(t, l.more(1<<30, start), "no count: only time bounds a row")
	assert.False(t, l.more(0, start.Add(-2*time.Second)))
	l = newLimits(5, time.Minute)
	assert.True(t, l.more(4, start))
	assert.False(t, l.more(5, start))
	assert.Equal(t, start.Add(2*time.Minute), l.drainDeadline(start))
	assert.Equal(t, start.Add(time.Second+minDrain), newLimits(1, time.Second).drainDeadline(start))
}

// A producer may not run further ahead of the consumer than the backlog
// bound, and stops waiting at its deadline.
func TestBacklogBound(t *testing.T) {
	tl := &tally{size: maxBacklogBytes / 2000} // a limit of 2000 messages
	var stop atomic.Bool
	assert.True(t, tl.backlog(1999, time.Now().Add(time.Second), &stop))
	t0 := time.Now()
	assert.False(t, tl.backlog(2000, time.Now().Add(50*time.Millisecond), &stop))
	assert.Less(t, time.Since(t0), 5*time.Second)
	tl.received.Store(1)
	assert.True(t, tl.backlog(2000, time.Now(), &stop))
	stop.Store(true)
	assert.False(t, tl.backlog(5000, time.Now().Add(time.Minute), &stop), "stop ends the wait at once")
}

// Unreachable servers and bad sizes give rows that say why, quickly.
func TestUnreachableAndBadSizes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := closedPort(t)
	rows := Redis(ctx, addr, []int{4, 128}, 10, 100*time.Millisecond)
	require.Len(t, rows, 4)
	for _, r := range rows {
		assert.Equal(t, "redis", r.System)
		assert.Equal(t, "tcp", r.Transport)
		assert.Contains(t, r.Err, addr)
		assert.Zero(t, r.Sent)
	}
	rows = AMQP(ctx, "amqp://guest:guest@"+addr+"/", []int{128}, 10, 100*time.Millisecond)
	require.Len(t, rows, 2)
	assert.Equal(t, []string{AMQPPublish, AMQPConfirm}, []string{rows[0].Pattern, rows[1].Pattern})
	for _, r := range rows {
		assert.Equal(t, "rabbitmq", r.System)
		assert.NotEmpty(t, r.Err)
		assert.Zero(t, r.Sent)
	}
	assert.Empty(t, Redis(canceled(), addr, []int{128}, 10, time.Second), "an ended context measures nothing")
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// closedPort is a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
