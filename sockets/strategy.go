package sockets

import (
	"context"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// lb load-balances outgoing messages round-robin over the pipes that have
// room (RFC 30: PUSH, DEALER, REQ). A message goes to exactly one peer;
// when every pipe is full, send waits.
type lb struct {
	s *Socket
	ring
}

// ring is the list of pipes a strategy turns over, and where the next turn
// starts.
type ring struct {
	pipes []*engine.Pipe
	next  int
}

func (r *ring) add(p *engine.Pipe) { r.pipes = append(r.pipes, p) }

func (r *ring) remove(p *engine.Pipe) {
	for i, q := range r.pipes {
		if q == p {
			r.pipes = append(r.pipes[:i], r.pipes[i+1:]...)
			if r.next > i {
				r.next--
			}
			return
		}
	}
}

// trySend offers m to the next pipe with room; it returns the pipe used.
// Called with s.mu held.
func (l *lb) trySend(m engine.Msg) *engine.Pipe {
	n := len(l.pipes)
	for i := 0; i < n; i++ {
		k := (l.next + i) % n
		p := l.pipes[k]
		if p.Out.TryPush(m) == engine.Pushed {
			l.next = (k + 1) % n
			return p
		}
	}
	return nil
}

// send waits until some pipe takes m.
func (l *lb) send(ctx context.Context, m engine.Msg) (*engine.Pipe, error) {
	s := l.s
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if p := l.trySend(m); p != nil {
			s.mu.Unlock()
			return p, nil
		}
		ch := s.sendSig.wait()
		// A pipe may have drained between the scan and wait: scan again.
		if p := l.trySend(m); p != nil {
			s.mu.Unlock()
			return p, nil
		}
		s.mu.Unlock()
		if err := s.wait(ctx, ch); err != nil {
			return nil, err
		}
	}
}

// fq fair-queues incoming messages: it takes one message from each pipe
// that has one in turn (RFC 30: PULL, DEALER, ROUTER, REP, SUB).
type fq struct {
	s *Socket
	// ring.remove forgets a pipe at once. Detached pipes are not removed
	// that way: their unread messages are still delivered, and tryRecv
	// drops them once empty.
	ring
	ahead
}

// ahead holds messages that the receiving side took out of its only
// pipe's queue in one batch, to hand out one by one without taking the
// queue's lock (shared with the connection's reader, on another core)
// for each: the pipe lock and the queue's cache lines then move between
// the two goroutines once per batch, not once per message. It serves only
// a socket with a single peer, so fair queuing is not at stake, and not a
// conflating one, whose queue must keep the newest message. What it holds
// is bounded by aheadMsgs and aheadBytes (as a writer's batch is): the
// socket holds at most that beyond its pipes' bounds.
type ahead struct {
	msgs []engine.Msg
	srcs []*engine.Peer
	pos  int
	pipe *engine.Pipe
}

const (
	aheadMsgs  = 64
	aheadBytes = 64 << 10
)

// pop hands out the next message taken ahead, if any.
func (a *ahead) pop(from **engine.Peer) (engine.Msg, *engine.Pipe, bool) {
	if a.pos == len(a.msgs) {
		return engine.Msg{}, nil, false
	}
	m := a.msgs[a.pos]
	a.msgs[a.pos] = engine.Msg{}
	if from != nil {
		pr := a.srcs[a.pos]
		if pr == nil {
			pr = a.pipe.PeerRef()
		}
		*from = pr
	}
	a.srcs[a.pos] = nil
	a.pos++
	return m, a.pipe, true
}

// fill takes up to a batch of p's messages; it reports whether any came,
// and whether p's queue is closed.
func (a *ahead) fill(p *engine.Pipe) (ok, closed bool) {
	if a.msgs == nil {
		a.msgs = make([]engine.Msg, 0, aheadMsgs)
		a.srcs = make([]*engine.Peer, 0, aheadMsgs)
	}
	a.msgs, a.srcs, _, closed = p.In.PopBatchFrom(a.msgs[:0], a.srcs[:0], aheadMsgs, aheadBytes)
	a.pos, a.pipe = 0, p
	return len(a.msgs) > 0, closed
}

// receiving is the fair-queuing side of a socket type, if it has one.
func receiving(b behavior) *fq {
	switch x := b.(type) {
	case *pullSocket:
		return &x.fq
	case *dealerSocket:
		return &x.fq
	case *pairSocket:
		return &x.fq
	case *repSocket:
		return &x.fq
	case *routerSocket:
		return &x.fq
	case *subSocket:
		return &x.fq
	case *pubSocket:
		return &x.fq
	}
	return nil
}

// queued is how many messages and bytes (at engine.Cost) taken from p are
// held ahead: they count as p's, not yet received.
func (a *ahead) queued(p *engine.Pipe) (n int, bytes int64) {
	if a.pipe != p {
		return 0, 0
	}
	for _, m := range a.msgs[a.pos:] {
		n++
		bytes += engine.Cost(m)
	}
	return n, bytes
}

// tryRecv takes the next message in turn, and with from not nil, its
// peer. Called with s.mu held.
func (f *fq) tryRecv(from **engine.Peer) (engine.Msg, *engine.Pipe, bool) {
	if m, p, ok := f.ahead.pop(from); ok {
		return m, p, true
	}
	if len(f.pipes) == 1 && !f.s.cfg.ConflateIn {
		p := f.pipes[0]
		ok, closed := f.ahead.fill(p)
		if ok {
			return f.ahead.pop(from)
		}
		if p.Terminated() && (closed || p.Shared) {
			f.remove(p)
		}
		return engine.Msg{}, nil, false
	}
	for i := 0; i < len(f.pipes); {
		k := (f.next + i) % len(f.pipes)
		p := f.pipes[k]
		var m engine.Msg
		var ok, closed bool
		if from == nil {
			m, ok, closed = p.In.TryPop()
		} else {
			m, ok, closed = popFrom(p, from)
		}
		if ok {
			f.next = (k + 1) % len(f.pipes)
			return m, p, true
		}
		if p.Terminated() && (closed || p.Shared) {
			f.remove(p)
			continue
		}
		i++
	}
	return engine.Msg{}, nil, false
}

// popFrom takes p's next message, and with from not nil, its peer: the
// connection it arrived on, or for inproc (no connection), p's peer.
func popFrom(p *engine.Pipe, from **engine.Peer) (m engine.Msg, ok, closed bool) {
	if from == nil {
		return p.In.TryPop()
	}
	var pr *engine.Peer
	if m, pr, ok, closed = p.In.TryPopFrom(); ok {
		if pr == nil {
			pr = p.PeerRef()
		}
		*from = pr
	}
	return m, ok, closed
}

// recv waits for the next message; accept filters what is returned.
func (f *fq) recv(ctx context.Context, accept func(engine.Msg, *engine.Pipe) bool, from **engine.Peer) (engine.Msg, *engine.Pipe, error) {
	s := f.s
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return engine.Msg{}, nil, ErrClosed
		}
		for {
			m, p, ok := f.tryRecv(from)
			if !ok {
				break
			}
			if accept == nil || accept(m, p) {
				s.mu.Unlock()
				return m, p, nil
			}
		}
		ch := s.recvSig.wait()
		for {
			m, p, ok := f.tryRecv(from)
			if !ok {
				break
			}
			if accept == nil || accept(m, p) {
				s.mu.Unlock()
				return m, p, nil
			}
		}
		s.mu.Unlock()
		if err := s.wait(ctx, ch); err != nil {
			return engine.Msg{}, nil, err
		}
	}
}

// distribute gives m to every pipe in to (fan-out: PUB, XPUB, XSUB),
// counting in Stats.Dropped those that are full. Called with s.mu held.
//
// A received message belongs to its receiver, who may change its frames.
// A tcp or ipc pipe only reads m (its connection writes it out), but an
// inproc pipe's queue is the peer socket's own, which hands m's frames to
// its application as they are. So when m goes to several pipes, every
// inproc one gets frames of its own, except one when no other pipe reads
// m: no receiver ever sees another's edits, or edits what a connection is
// still writing.
func distribute(s *Socket, to []*engine.Pipe, m engine.Msg) {
	keep := 0 // the pipe that may take m's frames themselves
	if len(to) > 1 {
		for _, p := range to {
			if !p.Inproc() {
				keep = -1
				break
			}
		}
	}
	for i, p := range to {
		mm := m
		if i != keep && p.Inproc() {
			mm = m.Clone()
		}
		// Offer: over inproc the queue is the peer's, which may filter on
		// arrival (a conflating SUB).
		if p.Out.Offer(mm) == engine.Full {
			s.st.dropped.Add(1)
		}
	}
}

// tryBatch offers ms in order to the pipes in turn, as trySend would one
// by one, and returns how many were taken. Called with s.mu held.
func (l *lb) tryBatch(ms []engine.Msg) int {
	if len(l.pipes) == 1 {
		n, _ := l.pipes[0].Out.TryPushBatch(ms)
		return n
	}
	n := 0
	for n < len(ms) && l.trySend(ms[n]) != nil {
		n++
	}
	return n
}

// sendBatch sends every message of ms in order, waiting as send does; it
// returns how many were sent.
func (l *lb) sendBatch(ctx context.Context, ms []engine.Msg) (int, error) {
	s := l.s
	sent := 0
	for sent < len(ms) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return sent, ErrClosed
		}
		if n := l.tryBatch(ms[sent:]); n > 0 {
			s.mu.Unlock()
			sent += n
			continue
		}
		ch := s.sendSig.wait()
		// A pipe may have drained between the scan and wait: scan again.
		if n := l.tryBatch(ms[sent:]); n > 0 {
			s.mu.Unlock()
			sent += n
			continue
		}
		s.mu.Unlock()
		if err := s.wait(ctx, ch); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// recvBatch fills dst with the next messages in turn: it waits for the
// first as recv does, then takes only what is queued already; accept (nil:
// all) filters them as recv's does.
func (f *fq) recvBatch(ctx context.Context, dst []engine.Msg, accept func(engine.Msg) bool) (int, error) {
	s := f.s
	fill := func() int {
		n := 0
		for n < len(dst) {
			m, _, ok := f.tryRecv(nil)
			if !ok {
				break
			}
			if accept == nil || accept(m) {
				dst[n] = m
				n++
			}
		}
		return n
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, ErrClosed
		}
		if n := fill(); n > 0 {
			s.mu.Unlock()
			return n, nil
		}
		ch := s.recvSig.wait()
		if n := fill(); n > 0 {
			s.mu.Unlock()
			return n, nil
		}
		s.mu.Unlock()
		if err := s.wait(ctx, ch); err != nil {
			return 0, err
		}
	}
}
