// Package baseline measures the brokers the seeds compared ZeroMQ with, a
// Redis list used as a queue and a RabbitMQ queue, and reports them as
// bench.Rows, so that they print in the same table as zmqkit's own rows.
//
// It lives apart from package bench on purpose: it imports the Redis and
// AMQP clients, and neither package bench nor any zmqkit library package
// imports it, so a program that imports zmqkit never links them.
//
// Every row is measured the way bench measures zmqkit: one producer and one
// consumer run at the same time, every message carries a sequence number in
// its first 8 bytes, and the consumer checks what it got. The send rate is
// the producer's enqueue rate and the receive rate the consumer's dequeue
// rate, both counted from the row's start. Messages that were enqueued but
// never dequeued (within the row's drain time) are reported as Lost, never
// hidden in a rate.
//
// CPU per message (Row.CPUPerMsg) is the CPU time, user plus system, of this
// client process only (producer and consumer together), divided by the
// messages received. The broker's own CPU time is not in it: for a broker,
// most of the work happens in the server process, so this number is not
// comparable with zmqkit's, where both ends run in the measuring process.
package baseline

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/bench"
)

// Row limits when the caller gives none.
const (
	// DefaultDuration bounds a row when duration <= 0.
	DefaultDuration = time.Second
	// minSize is the smallest message: it must hold the sequence number.
	minSize = 8
	// maxSize is the largest message accepted (Redis caps a value at 512 MB;
	// a benchmark has no use for anything near that).
	maxSize = 64 << 20
	// maxBacklogBytes bounds how far the producer may run ahead of the
	// consumer, so that a fast producer cannot fill the broker's memory. At
	// the seeds' sizes and about a second per row it is never reached below
	// 10 KiB, and at 10 KiB only by more than 25,000 messages in flight.
	maxBacklogBytes = 256 << 20
	// minDrain is the least time the consumer is given, after the producer
	// stops, to dequeue what is left.
	minDrain = 5 * time.Second
)

// endMark is the sequence number of the message the producer enqueues after
// its last one: when the consumer dequeues it, it has seen everything before
// it (both brokers keep one producer's order), so it can stop at once.
const endMark = ^uint64(0)

// limits bound one row: the producer stops after n messages (when n > 0) or
// after d, whichever comes first; the consumer stops at its end mark or at
// the drain deadline, which is d plus the drain time after the start.
type limits struct {
	n int
	d time.Duration
}

func newLimits(count int, duration time.Duration) limits {
	if duration <= 0 {
		duration = DefaultDuration
	}
	return limits{n: max(count, 0), d: duration}
}

// more tells whether the producer may send message i.
func (l limits) more(i int, start time.Time) bool {
	if l.n > 0 && i >= l.n {
		return false
	}
	return time.Since(start) < l.d
}

// drainDeadline is when the consumer gives up waiting.
func (l limits) drainDeadline(start time.Time) time.Time {
	return start.Add(l.d + max(minDrain, l.d))
}

// stamp writes seq into p's first 8 bytes.
func stamp(p []byte, seq uint64) { binary.BigEndian.PutUint64(p, seq) }

// endMessage is the end mark's payload.
func endMessage() []byte {
	p := make([]byte, minSize)
	stamp(p, endMark)
	return p
}

// tally is the consumer's account of what arrived. Only the consumer
// goroutine writes it; received is read by the producer too, to bound the
// backlog.
type tally struct {
	size      int
	received  atomic.Uint64 // distinct, well-formed messages
	reordered uint64        // arrived after a message with a higher sequence number
	dup       uint64        // sequence numbers seen before
	bad       uint64        // wrong size or impossible sequence number
	seen      []uint64      // bitset of sequence numbers
	high      uint64        // highest sequence number + 1 so far
	last      time.Time     // when the last message arrived
}

// maxSeq bounds the bitset (32 MiB): far more messages than a row sends.
const maxSeq = 1 << 28

// count adds one dequeued message to t and reports whether it is the end
// mark. It takes the payload as the client hands it over, string or bytes,
// so as not to copy it.
func count[T ~string | ~[]byte](t *tally, p T) (end bool) {
	if len(p) < minSize {
		t.bad++
		return false
	}
	var seq uint64
	for i := range minSize {
		seq = seq<<8 | uint64(p[i])
	}
	if seq == endMark && len(p) == minSize {
		return true
	}
	if len(p) != t.size || seq >= maxSeq {
		t.bad++
		return false
	}
	w := int(seq / 64)
	if w >= len(t.seen) {
		t.seen = append(t.seen, make([]uint64, w+1-len(t.seen)+len(t.seen)/2)...)
	}
	bit := uint64(1) << (seq % 64)
	if t.seen[w]&bit != 0 {
		t.dup++
		return false
	}
	t.seen[w] |= bit
	if seq < t.high {
		t.reordered++
	} else {
		t.high = seq + 1
	}
	t.received.Add(1)
	t.last = time.Now()
	return false
}

// backlog tells the producer whether it may send message number sent now,
// waiting (until deadline, or stop) while too many are in flight.
func (t *tally) backlog(sent uint64, deadline time.Time, stop *atomic.Bool) bool {
	limit := uint64(max(1000, maxBacklogBytes/max(t.size, 1)))
	for sent-min(sent, t.received.Load()) >= limit {
		if stop.Load() || time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}

// cpuTime is this process's user+system CPU time so far (0 where the
// platform does not say).
func cpuTime() time.Duration { return bench.ProcessCPU() }

func mb(rate float64, size int) float64 { return rate * float64(size) / 1e6 }

// fill completes row from what the producer and consumer counted. start and
// cpu0 are the row's start and the process CPU time then; errs are the
// errors met on the way, in order.
func fill(row *bench.Row, start time.Time, cpu0 time.Duration, sent uint64, sendElapsed time.Duration, t *tally, errs []string) {
	cpu := cpuTime() - cpu0
	got := t.received.Load()
	row.Sent, row.Received, row.Reordered = sent, got, t.reordered
	if got < sent {
		row.Lost = sent - got
	}
	if sent > 0 && sendElapsed > 0 {
		row.SendRate = float64(sent) / sendElapsed.Seconds()
	}
	if got > 0 {
		if el := t.last.Sub(start); el > 0 {
			row.RecvRate = float64(got) / el.Seconds()
		}
		row.CPUPerMsg = float64(cpu.Nanoseconds()) / float64(got)
	}
	row.SendMBps, row.RecvMBps = mb(row.SendRate, row.Size), mb(row.RecvRate, row.Size)
	if t.dup > 0 {
		errs = append(errs, fmt.Sprintf("%d duplicate messages", t.dup))
	}
	if t.bad > 0 {
		errs = append(errs, fmt.Sprintf("%d malformed messages", t.bad))
	}
	if got > sent {
		errs = append(errs, fmt.Sprintf("received %d messages, more than the %d sent", got, sent))
	}
	row.Err = strings.Join(errs, "; ")
}

// sizeErr checks a message size, returning the row error for a bad one.
func sizeErr(size int) string {
	if size < minSize || size > maxSize {
		return "size out of range (8 B to 64 MiB: every message carries an 8-byte sequence number)"
	}
	return ""
}

// errorRows is one row per pattern and size, each carrying err.
func errorRows(system string, patterns []string, sizes []int, err string) []bench.Row {
	var rows []bench.Row
	for _, p := range patterns {
		for _, size := range sizes {
			rows = append(rows, bench.Row{System: system, Pattern: p, Transport: "tcp", Size: size, Err: err})
		}
	}
	return rows
}
