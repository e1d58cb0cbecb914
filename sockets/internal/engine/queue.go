package engine

import (
	"sync"
	"sync/atomic"
)

// Result is the outcome of offering a message to a queue.
type Result uint8

const (
	Pushed Result = iota // stored (or consumed by the queue's interceptor)
	Full                 // at its high-water mark; nothing stored
	Closed               // the queue accepts nothing more
)

// Queue is a bounded FIFO of messages between one producer side and one
// consumer side. It never blocks: callers wait on their own signals, which the
// queue triggers on the two transitions that matter (empty→non-empty for the
// consumer, full→not-full for the producer) and on close.
type Queue struct {
	mu     sync.Mutex
	ring   []Msg
	head   int
	n      int
	hwm    int // 0 means unbounded, as in libzmq
	closed bool

	// maxBytes bounds what the queue holds in bytes, each message counted
	// at Cost (0: no bound); bytes is what it holds now. Like the HWM the
	// bound is checked before a message goes in, so a single message larger
	// than it still passes an empty queue.
	maxBytes int64
	bytes    int64
	// pool, if set, is the socket's bound on what all its queues of this
	// direction hold together: the queue is full while the pool is.
	pool  *Pool
	freed bool // a take or removal took the pool below its limit: wake it after unlocking
	// blocked: a producer was refused because the queue was full (its own
	// bounds, not the pool's) and waits for onWritable. Takes wake it only
	// once the queue has drained to its low-water mark (lowWater), as
	// libzmq hands back credit: a producer at the mark is woken once per
	// half a queue, not once per message taken.
	blocked bool
	// mark: a push brought the queue to half its HWM, or to a further
	// eighth of it above that (TakeMark).
	mark atomic.Bool

	onReadable func()
	onWritable func()
	intercept  func(Msg) bool

	conflate bool           // keep only the newest message
	replaced *atomic.Uint64 // counts what conflation dropped (may be nil)

	// gone counts the messages that have left the queue, taken or
	// dropped, since it was made: message i (from 1) has left once gone
	// reaches i.
	gone uint64

	// srcs, beside ring, is the peer each message came from: source at
	// the time it was stored. It exists once SetSource is called (the
	// queues a connection's reader fills); other queues skip it.
	srcs   []*Peer
	source *Peer
}

// SetSource marks the messages stored from now on as coming from pr.
func (q *Queue) SetSource(pr *Peer) {
	q.mu.Lock()
	if q.srcs == nil {
		q.srcs = make([]*Peer, len(q.ring))
	}
	q.source = pr
	q.mu.Unlock()
}

// FrameOverhead is what each frame is charged beyond its payload in a
// queue's byte count: its slice header (24 bytes on 64-bit) and
// bookkeeping. It makes a message of 65,535 empty frames cost what it
// really holds (about 1.5 MiB of slice headers), not zero.
const FrameOverhead = 32

// Cost is what m counts against a queue's byte bound: its payload and
// FrameOverhead per frame.
func Cost(m Msg) int64 {
	n := int64(len(m.Head)) + FrameOverhead
	for _, f := range m.Tail {
		n += int64(len(f)) + FrameOverhead
	}
	return n
}

// full reports whether the queue is at its high-water mark or byte bound,
// or its socket's pool is.
func (q *Queue) full() bool {
	full, _ := q.fullFor()
	return full
}

// fullFor is full, also saying whether the pool was found full: a refused
// producer must then wait on the pool (refuse), since its own queue's
// pops may never come.
func (q *Queue) fullFor() (full, pool bool) {
	pool = q.pool.full()
	return pool || q.atBounds(), pool
}

// atBounds reports whether the queue is at its own high-water mark or
// byte bound (its pool aside).
func (q *Queue) atBounds() bool {
	return (q.hwm > 0 && q.n >= q.hwm) || (q.maxBytes > 0 && q.bytes >= q.maxBytes)
}

// refuse records, with q.mu held, that a producer found the queue full
// and waits for room, and unlocks. Full for its own bounds, the producer
// is woken at the low-water mark (drained); full for its pool, the queue
// waits on the pool, and is woken at once if the pool freed meanwhile.
func (q *Queue) refuse(pool bool) {
	if !pool {
		q.blocked = true
	}
	q.mu.Unlock()
	if pool {
		q.pool.wait(q)
	}
}

// lowWater reports whether the queue has drained far enough to wake a
// refused producer: to half its high-water mark and half its byte bound.
func (q *Queue) lowWater() bool {
	return (q.hwm == 0 || q.n <= q.hwm/2) && (q.maxBytes == 0 || q.bytes <= q.maxBytes/2)
}

// drained reports, with q.mu held, whether a producer refused for a full
// queue is to be woken now, and if so forgets it.
func (q *Queue) drained() bool {
	if q.blocked && (q.closed || q.lowWater()) {
		q.blocked = false
		return true
	}
	return false
}

// unlock releases q.mu, then tells the producers waiting for room: every
// queue waiting on the pool if a take or removal freed it, and q's own
// producer if wake (the queue went from full to not full).
func (q *Queue) unlock(wake bool) {
	f, pool, freed := q.onWritable, q.pool, q.freed
	q.freed = false
	q.mu.Unlock()
	if freed {
		pool.wake()
	}
	if wake && f != nil {
		f()
	}
}

// Pool bounds the bytes that all the queues of one socket and direction
// hold together (each message counted at Cost). A queue refused for a full
// pool waits for it: when the pool falls back below its limit, every queue
// that found it full is told, through its writable callback.
type Pool struct {
	Limit int64
	used  atomic.Int64

	mu      sync.Mutex
	waiting map[*Queue]struct{}
}

// Used is what the pool's queues hold now.
func (p *Pool) Used() int64 {
	if p == nil {
		return 0
	}
	return p.used.Load()
}

func (p *Pool) full() bool { return p.fullWith(0) }

// fullWith reports whether the pool would be full with extra bytes more.
func (p *Pool) fullWith(extra int64) bool {
	return p != nil && p.Limit > 0 && p.used.Load()+extra >= p.Limit
}

// add counts n more (or fewer) bytes; it reports whether that took the
// pool from full to not full.
func (p *Pool) add(n int64) (freed bool) {
	if p == nil {
		return false
	}
	after := p.used.Add(n)
	return n < 0 && p.Limit > 0 && after < p.Limit && after-n >= p.Limit
}

// wait records that q found the pool full; if it is not full any more,
// q is woken at once (the pool may have freed meanwhile).
func (p *Pool) wait(q *Queue) {
	p.mu.Lock()
	if p.waiting == nil {
		p.waiting = make(map[*Queue]struct{})
	}
	p.waiting[q] = struct{}{}
	p.mu.Unlock()
	if !p.full() {
		p.wake()
	}
}

// wake tells every waiting queue's producer that the pool has room.
func (p *Pool) wake() {
	p.mu.Lock()
	qs := p.waiting
	p.waiting = nil
	p.mu.Unlock()
	for q := range qs {
		q.mu.Lock()
		f := q.onWritable
		q.mu.Unlock()
		if f != nil {
			f()
		}
	}
}

// SetPool makes the queue count in pool (nil: none) from now on; call it
// before the queue holds anything.
func (q *Queue) SetPool(pool *Pool) {
	q.mu.Lock()
	q.pool = pool
	q.mu.Unlock()
}

// Unpool takes the queue out of its pool, with what it holds: for a pipe
// that has left its socket, whose messages nobody will take.
func (q *Queue) Unpool() {
	q.mu.Lock()
	pool := q.pool
	freed := pool.add(-q.bytes)
	q.pool = nil
	q.mu.Unlock()
	if freed {
		pool.wake()
	}
}

// SetMaxBytes bounds the bytes the queue holds, messages counted at Cost
// (0: no bound). Messages already queued stay.
func (q *Queue) SetMaxBytes(n int64) {
	q.mu.Lock()
	if q.conflate {
		q.mu.Unlock()
		return // one message at most, whatever the bound
	}
	wasFull := q.full()
	q.maxBytes = max(n, 0)
	q.unlock(wasFull && !q.full())
}

// count adds n bytes (n < 0: takes them off) to what the queue and its
// pool hold. Called with q.mu held.
func (q *Queue) count(n int64) {
	q.bytes += n
	q.pooled(n)
}

// pooled adds n bytes to what the queue's pool holds: once per batch, as
// the pool's counter is shared by every connection of the socket. Called
// with q.mu held.
func (q *Queue) pooled(n int64) {
	if q.pool.add(n) {
		q.freed = true // unlock wakes the pool's waiters
	}
}

// put stores m at ring index i, with its source, and counts it in the
// queue's bytes (the caller counts it in the pool) and returns its cost.
func (q *Queue) put(i int, m Msg) int64 {
	c := Cost(m)
	q.bytes += c
	q.ring[i] = m
	if q.srcs != nil {
		q.srcs[i] = q.source
	}
	return c
}

// NewQueue returns a queue that holds at most hwm messages (0: no limit).
func NewQueue(hwm int) *Queue {
	if hwm < 0 {
		hwm = 0
	}
	// The ring starts small and doubles as messages queue up (up to the
	// HWM): an idle connection's two queues cost a few hundred bytes, not
	// two rings of HWM messages.
	size := 16
	if hwm > 0 && hwm < size {
		size = hwm
	}
	return &Queue{ring: make([]Msg, size), hwm: hwm}
}

// SetHWM changes the high-water mark (0: no limit). Messages already queued
// stay, even above a lowered mark.
func (q *Queue) SetHWM(hwm int) {
	q.mu.Lock()
	if q.conflate {
		q.mu.Unlock()
		return // one message at most, whatever the mark
	}
	wasFull := q.full()
	if hwm < 0 {
		hwm = 0
	}
	q.hwm = hwm
	q.unlock(wasFull && !q.full())
}

// SetConflate makes the queue keep only its newest message (libzmq's
// ZMQ_CONFLATE, but whole messages, every frame): storing onto a non-empty
// queue replaces what is there, and the replaced message is counted in
// replaced (nil: not counted). The queue is then never full; messages
// already queued give way to the newest of them at once.
func (q *Queue) SetConflate(replaced *atomic.Uint64) {
	q.mu.Lock()
	q.conflate, q.replaced, q.hwm, q.maxBytes = true, replaced, 0, 0
	q.pool.add(-q.bytes) // one message at most: no pool needed
	q.pool = nil
	var dropped int
	for q.n > 1 {
		q.take() // counts in gone
		dropped++
	}
	q.mu.Unlock()
	q.countReplaced(dropped)
}

func (q *Queue) countReplaced(n int) {
	if n > 0 && q.replaced != nil {
		q.replaced.Add(uint64(n))
	}
}

// SetReadable sets the function called when the queue goes from empty to
// non-empty, or is closed. It runs without the queue's lock held.
func (q *Queue) SetReadable(f func()) { q.mu.Lock(); q.onReadable = f; q.mu.Unlock() }

// SetWritable sets the function called when a producer refused for a full
// queue may push again (the queue drained to its low-water mark, its pool
// freed, or its bounds were raised), or the queue is closed.
func (q *Queue) SetWritable(f func()) { q.mu.Lock(); q.onWritable = f; q.mu.Unlock() }

// SetIntercept installs a filter that Offer runs on every message before it is
// stored; a false return means the interceptor consumed it. The consumer side
// of the queue uses it to act on control messages (subscriptions) as they
// arrive, whichever goroutine delivers them.
//
// Messages offered before the interceptor was installed (an inproc peer
// may queue subscriptions before this side attaches) are run through it
// now, in order, so none escapes it.
func (q *Queue) SetIntercept(f func(Msg) bool) {
	q.mu.Lock()
	q.intercept = f
	var wake bool
	if f != nil {
		_, wake = q.removeLocked(func(m Msg) bool { return !f(m) })
	}
	q.unlock(wake)
}

// Offer runs the interceptor, then tries to store m. After Full, retry with
// TryPush so that the interceptor does not see m twice. Without an
// interceptor it takes the lock once: the check and the store are one step,
// so an interceptor installed meanwhile cannot miss m.
func (q *Queue) Offer(m Msg) Result {
	q.mu.Lock()
	f := q.intercept
	if f == nil {
		return q.pushLocked(m)
	}
	q.mu.Unlock()
	if !f(m) {
		return Pushed
	}
	return q.TryPush(m)
}

// OfferBatch offers ms in order, as Offer would one by one, storing as many
// as there is room for under one lock. It returns how many it dealt with
// (stored or consumed by the interceptor) and, when that is fewer than
// len(ms), why: Full or Closed. kept reports that ms[n] went through the
// interceptor already and was kept: store it with TryPush, not OfferBatch.
func (q *Queue) OfferBatch(ms []Msg) (n int, r Result, kept bool) {
	for n < len(ms) {
		q.mu.Lock()
		if f := q.intercept; f != nil {
			q.mu.Unlock()
			if !f(ms[n]) {
				n++
				continue
			}
			if r = q.TryPush(ms[n]); r != Pushed {
				return n, r, true
			}
			n++
			continue
		}
		if q.closed {
			q.mu.Unlock()
			return n, Closed, false
		}
		if q.conflate {
			// The newest of the batch replaces whatever is queued.
			dropped := len(ms) - n - 1 + q.n
			q.gone += uint64(dropped)
			q.bytes = 0
			q.put(q.head, ms[len(ms)-1])
			wake := q.n == 0
			q.n = 1
			f := q.onReadable
			q.mu.Unlock()
			q.countReplaced(dropped)
			if wake && f != nil {
				f()
			}
			return len(ms), Pushed, false
		}
		if full, pool := q.fullFor(); full {
			q.refuse(pool)
			return n, Full, false
		}
		wake := q.n == 0
		var cost int64
		for n < len(ms) && !q.atBounds() {
			if q.n == len(q.ring) {
				q.grow()
			}
			cost += q.put((q.head+q.n)%len(q.ring), ms[n])
			q.n++
			n++
		}
		// The pool is checked once a batch: it may be passed by what one
		// read brought, which is in memory already.
		q.pooled(cost)
		f := q.onReadable
		q.mu.Unlock()
		if wake && f != nil {
			f()
		}
	}
	return n, Pushed, false
}

// TryPush stores m unless the queue is full or closed.
func (q *Queue) TryPush(m Msg) Result {
	q.mu.Lock()
	return q.pushLocked(m)
}

// TryPushBatch is TryPush for each of ms in order, under one lock: it
// stores messages until one does not fit, and returns how many it stored
// and, when fewer than len(ms), why (Full or Closed). Each message is
// checked against the queue's bounds and its pool's before it goes in, as
// TryPush checks it; the pool's shared counter moves once.
func (q *Queue) TryPushBatch(ms []Msg) (n int, r Result) {
	if len(ms) == 0 {
		return 0, Pushed
	}
	q.mu.Lock()
	if q.conflate {
		q.mu.Unlock()
		for n < len(ms) {
			if r = q.TryPush(ms[n]); r != Pushed {
				return n, r
			}
			n++
		}
		return n, Pushed
	}
	if q.closed {
		q.mu.Unlock()
		return 0, Closed
	}
	wake := q.n == 0
	var cost int64
	for ; n < len(ms); n++ {
		pool := q.pool.fullWith(cost)
		if pool || q.atBounds() {
			if n == 0 {
				q.refuse(pool)
				return 0, Full
			}
			r = Full
			break
		}
		if q.n == len(q.ring) {
			q.grow()
		}
		cost += q.put((q.head+q.n)%len(q.ring), ms[n])
		q.n++
	}
	q.pooled(cost)
	f := q.onReadable
	q.mu.Unlock()
	if wake && f != nil {
		f()
	}
	return n, r
}

// pushLocked is TryPush with q.mu held; it unlocks.
func (q *Queue) pushLocked(m Msg) Result {
	if q.closed {
		q.mu.Unlock()
		return Closed
	}
	if full, pool := q.fullFor(); full {
		q.refuse(pool)
		return Full
	}
	if q.conflate && q.n > 0 {
		q.bytes = 0
		q.put(q.head, m)
		q.gone++
		q.mu.Unlock()
		q.countReplaced(1)
		return Pushed
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.pooled(q.put((q.head+q.n)%len(q.ring), m))
	q.n++
	if h := q.hwm / 2; h > 0 && q.n >= h && (q.n-h)%max(q.hwm/8, 1) == 0 {
		q.mark.Store(true)
	}
	wake := q.n == 1
	f := q.onReadable
	q.mu.Unlock()
	if wake && f != nil {
		f()
	}
	return Pushed
}

// TakeMark reports whether, since the last call, a push has brought the
// queue to half its HWM or to a further eighth of it above that (5/8, 6/8,
// 7/8, full): the points at which a sender that never blocks (PUB) lets
// the queue's consumer run. Offer and TryPush set it; the batch calls,
// which no such sender uses, do not.
func (q *Queue) TakeMark() bool { return q.mark.Load() && q.mark.Swap(false) }

func (q *Queue) grow() {
	size := 2 * len(q.ring)
	if q.hwm > 0 && size > q.hwm {
		size = q.hwm
	}
	ring := make([]Msg, size)
	for i := 0; i < q.n; i++ {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	if q.srcs != nil {
		srcs := make([]*Peer, size)
		for i := 0; i < q.n; i++ {
			srcs[i] = q.srcs[(q.head+i)%len(q.ring)]
		}
		q.srcs = srcs
	}
	q.ring, q.head = ring, 0
}

// TryPopFrom is TryPop that also says which peer the message came from
// (nil when no source was set as it was stored).
func (q *Queue) TryPopFrom() (m Msg, from *Peer, ok, closed bool) {
	q.mu.Lock()
	if q.n == 0 {
		closed = q.closed
		q.mu.Unlock()
		return Msg{}, nil, false, closed
	}
	if q.srcs != nil {
		from = q.srcs[q.head]
	}
	m, c := q.take()
	q.pooled(-c)
	q.unlock(q.drained())
	return m, from, true, false
}

// TryPop removes the oldest message. ok is false when the queue is empty;
// closed then tells whether it will stay so.
func (q *Queue) TryPop() (m Msg, ok, closed bool) {
	m, _, ok, closed = q.TryPopFrom()
	return m, ok, closed
}

// take removes the oldest message, counting it off the queue's bytes (the
// caller counts it off the pool), and returns it with its cost.
func (q *Queue) take() (Msg, int64) {
	m := q.ring[q.head]
	c := Cost(m)
	q.bytes -= c
	q.ring[q.head] = Msg{}
	if q.srcs != nil {
		q.srcs[q.head] = nil
	}
	q.gone++
	q.head++
	if q.head == len(q.ring) {
		q.head = 0
	}
	q.n--
	return m, c
}

// PopBatch appends up to max messages to dst, and stops early once they
// cost maxBytes (at Cost; 0: no byte cap; one message always comes): what
// a writer holds out of its queue while it writes them is bounded in
// bytes too, not only what the queue holds. empty reports whether the
// queue was left empty; closed, whether it is also closed.
func (q *Queue) PopBatch(dst []Msg, max int, maxBytes int64) (out []Msg, empty, closed bool) {
	out, _, empty, closed = q.PopBatchFrom(dst, nil, max, maxBytes)
	return out, empty, closed
}

// PopBatchFrom is PopBatch that also appends, with srcs not nil, each
// message's source (see SetSource; nil where none was set) to srcs.
func (q *Queue) PopBatchFrom(dst []Msg, srcs []*Peer, max int, maxBytes int64) (out []Msg, from []*Peer, empty, closed bool) {
	q.mu.Lock()
	var cost int64
	for i := 0; i < max && q.n > 0 && (maxBytes <= 0 || cost < maxBytes); i++ {
		if srcs != nil {
			var pr *Peer
			if q.srcs != nil {
				pr = q.srcs[q.head]
			}
			srcs = append(srcs, pr)
		}
		m, c := q.take()
		cost += c
		dst = append(dst, m)
	}
	q.pooled(-cost)
	empty, closed = q.n == 0, q.closed
	q.unlock(q.drained())
	return dst, srcs, empty, closed
}

// poke runs the readable callback, for news other than a message.
func (q *Queue) poke() {
	q.mu.Lock()
	f := q.onReadable
	q.mu.Unlock()
	if f != nil {
		f()
	}
}

// HasRoom reports whether a push would be stored now: the queue is below
// its mark (or conflating), or closed, when the push is refused at once
// rather than waited for.
func (q *Queue) HasRoom() bool {
	q.mu.Lock()
	if full, pool := q.fullFor(); full && !q.closed {
		q.refuse(pool)
		return false
	}
	q.mu.Unlock()
	return true
}

// Tail is the number of messages ever stored: the one stored last is
// message Tail (from 1).
func (q *Queue) Tail() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.gone + uint64(q.n)
}

// Gone is how many messages have left the queue, taken or dropped: message
// i has left once Gone reaches i.
func (q *Queue) Gone() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.gone
}

// Len is the number of queued messages.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// IsClosed reports whether Close was called.
func (q *Queue) IsClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Close stops further pushes; queued messages can still be popped.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	r, w := q.onReadable, q.onWritable
	q.mu.Unlock()
	if r != nil {
		r()
	}
	if w != nil {
		w()
	}
}

// RemoveIf drops the queued messages for which drop returns true, keeping
// the others in order, and returns how many it dropped.
func (q *Queue) RemoveIf(drop func(Msg) bool) int {
	q.mu.Lock()
	n, wake := q.removeLocked(drop)
	q.unlock(wake)
	return n
}

// removeLocked is RemoveIf with q.mu held; wake says the queue is no
// longer full.
func (q *Queue) removeLocked(drop func(Msg) bool) (dropped int, wake bool) {
	wasFull := q.full()
	kept := 0
	for i := 0; i < q.n; i++ {
		from := (q.head + i) % len(q.ring)
		m := q.ring[from]
		if drop(m) {
			q.count(-Cost(m))
		} else {
			to := (q.head + kept) % len(q.ring)
			q.ring[to] = m
			if q.srcs != nil {
				q.srcs[to] = q.srcs[from]
			}
			kept++
		}
	}
	for i := kept; i < q.n; i++ {
		q.ring[(q.head+i)%len(q.ring)] = Msg{}
		if q.srcs != nil {
			q.srcs[(q.head+i)%len(q.ring)] = nil
		}
	}
	dropped = q.n - kept
	q.gone += uint64(dropped)
	q.n = kept
	return dropped, wasFull && !q.full()
}

// obs (issue 14): read-only accessor for per-peer queue depth.

// Depth is what the queue holds now: its messages, and their bytes as its
// byte bound counts them (Cost: payload and FrameOverhead per frame).
func (q *Queue) Depth() (msgs int, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bytes
}
