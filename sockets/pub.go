package sockets

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// subscription parses a ZMTP 3.0 subscription message: first byte 1
// (subscribe) or 0 (cancel), then the prefix.
func subscription(m engine.Msg) (topic []byte, subscribe, ok bool) {
	if len(m.Tail) != 0 || len(m.Head) == 0 || m.Head[0] > 1 {
		return nil, false, false
	}
	return m.Head[1:], m.Head[0] == 1, true
}

// pubSocket (RFC 29) sends each message to every subscriber whose
// subscriptions match its first frame. A subscriber at its HWM loses that
// message (counted in Stats.Dropped); the others go on. As XPUB it also
// delivers subscriptions to Recv: the first subscribe and the last cancel of
// each topic across all subscribers, or every subscribe with
// WithXPubVerbose, and every cancel too with WithXPubVerboser.
//
// Each subscriber's topics are a trie of their own, so matching a message
// costs the length of its first frame per subscriber, and a subscriber's
// topics are bounded (WithMaxSubscriptions, WithMaxSubscriptionBytes).
type pubSocket struct {
	s     *Socket
	xpub  bool
	pipes []*engine.Pipe
	fq    fq
	to    []*engine.Pipe // send's scratch: the subscribers a message goes to, under s.mu

	gmu     sync.Mutex
	counts  topicTrie    // subscribers per topic (XPUB only), under gmu
	pending []engine.Msg // cancels from departed subscribers (XPUB), under s.mu
}

// subscriber is what a PUB or XPUB keeps about one peer.
type subscriber struct {
	subs subscriptions
	// warned: a subscription over the limits was logged (once per
	// connection, whatever the peer sends).
	warned atomic.Bool
	// gone: the pipe is detached; an XPUB counts nothing more for it.
	// Under gmu.
	gone bool
}

func newPub(s *Socket, xpub bool) *pubSocket {
	return &pubSocket{s: s, xpub: xpub, fq: fq{s: s}}
}

func (x *pubSocket) attach(p *engine.Pipe) error {
	sb := &subscriber{}
	p.Data = sb
	p.In.SetIntercept(func(m engine.Msg) bool { return x.incoming(p, sb, m) })
	x.pipes = append(x.pipes, p)
	if x.xpub {
		x.fq.add(p)
	}
	return nil
}

// incoming runs as a subscriber's message arrives; it reports whether the
// message goes on to Recv.
func (x *pubSocket) incoming(p *engine.Pipe, sb *subscriber, m engine.Msg) bool {
	topic, sub, ok := subscription(m)
	if !ok {
		return x.xpub // XSUB may send other messages upstream
	}
	cfg := &x.s.cfg
	if !sub {
		if x.xpub {
			// The subscriber's set and the counts change together.
			x.gmu.Lock()
			defer x.gmu.Unlock()
			if sb.gone {
				return false
			}
		}
		if !sb.subs.remove(topic) {
			return false // never admitted (refused, over the limits) or cancelled already
		}
		// Release first: the count drops whether or not the cancel is
		// delivered.
		return x.xpub && (x.release(topic) || cfg.xpubVerboser)
	}
	if allow := cfg.subFilter; allow != nil && !allow(peerOf(p.PeerRef()), topic) {
		x.s.st.subsRefused.Add(1)
		return false // as if never asked: its cancel finds nothing either
	}
	if x.xpub {
		x.gmu.Lock()
		defer x.gmu.Unlock()
		if sb.gone {
			return false
		}
	}
	r, own := sb.subs.admit(topic, cfg.maxSubs, cfg.maxSubBytes)
	switch r {
	case overLimit:
		x.s.st.subsOverLimit.Add(1)
		if !sb.warned.Swap(true) {
			x.warnOverLimit(p, sb, topic)
		}
		return false // as if never asked, as with the filter
	case already:
		return x.xpub && cfg.xpubVerbose
	}
	if !x.xpub {
		return false
	}
	// own is the subscriber's copy of topic, which never changes: the
	// count keeps it too rather than a copy of its own.
	return x.counts.add(own, true) == 1 || cfg.xpubVerbose
}

// warnOverLimit logs the first subscription a subscriber made over the
// limits.
func (x *pubSocket) warnOverLimit(p *engine.Pipe, sb *subscriber, topic []byte) {
	s := x.s
	n, size := sb.subs.len()
	pr := peerOf(p.PeerRef())
	s.log.Warn("zmqkit: subscription over the limits refused; further ones from this peer are only counted (Stats.SubscriptionsOverLimit)",
		"socket", s.name, "endpoint", p.Endpoint, "remote", pr.Remote, "user", pr.UserID,
		"subscriptions", n, "bytes", size, "topic_bytes", len(topic),
		"max_subscriptions", s.cfg.maxSubs, "max_subscription_bytes", s.cfg.maxSubBytes)
}

// release drops one subscriber from topic (XPUB); it reports whether none
// is left. Called with gmu held.
func (x *pubSocket) release(topic []byte) bool {
	left, ok := x.counts.remove(topic)
	return ok && left == 0
}

// forget clears a subscriber's topics: it left (gone), or reconnected and
// will subscribe again. Called with s.mu held.
func (x *pubSocket) forget(p *engine.Pipe, gone bool) {
	sb, ok := p.Data.(*subscriber)
	if !ok {
		return
	}
	sb.warned.Store(false)
	x.gmu.Lock()
	sb.gone = gone
	for _, t := range sb.subs.clear() {
		if x.xpub && (x.release(t) || x.s.cfg.xpubVerboser) {
			x.pending = append(x.pending, engine.Msg{Head: append([]byte{0}, t...)})
		}
	}
	x.gmu.Unlock()
	if len(x.pending) > 0 {
		x.s.recvSig.fire()
	}
}

func (x *pubSocket) detach(p *engine.Pipe) {
	for i, q := range x.pipes {
		if q == p {
			x.pipes = append(x.pipes[:i], x.pipes[i+1:]...)
			break
		}
	}
	x.forget(p, true)
}

func (x *pubSocket) connected(p *engine.Pipe) error { x.forget(p, false); return nil }

// send is sendBatch of one message.
func (x *pubSocket) send(ctx context.Context, m engine.Msg) error {
	ms := [1]engine.Msg{m}
	_, err := x.sendBatch(ctx, ms[:])
	return err
}

// sendBatch is send for each of ms, under one hold of the socket's lock.
func (x *pubSocket) sendBatch(ctx context.Context, ms []engine.Msg) (int, error) {
	s := x.s
	if s.cfg.pubNoDrop {
		for i, m := range ms {
			if err := x.sendAll(ctx, m); err != nil {
				return i, err
			}
		}
		return len(ms), nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	yield := false
	for _, m := range ms {
		yield = x.offer(m) || yield
	}
	s.mu.Unlock()
	if yield {
		runtime.Gosched()
	}
	return len(ms), nil
}

// offer gives m to every subscriber it matches that has room, and counts
// in Stats.Dropped those without. Called with s.mu held. It returns true
// when a subscriber's queue has just reached half its HWM, or a further
// eighth of it (Queue.TakeMark): the caller then yields once, after letting
// go of the lock, so that a connection's writer waiting for this
// goroutine's P gets to drain the queue. Without that, a writer that
// shares the sender's P (the GC's worker has the other, or GOMAXPROCS is
// 1) does not run until the sender blocks, and a PUB sender catching up on
// a schedule does not block: the queue fills and the PUB drops at its HWM
// with a writer ready to drain it.
func (x *pubSocket) offer(m engine.Msg) (yield bool) {
	s := x.s
	// One subscriber is the common case: the list is for two or more.
	var one *engine.Pipe
	to := x.to[:0]
	for _, p := range x.pipes {
		if !p.Data.(*subscriber).subs.match(m.Head) {
			continue
		}
		if one == nil {
			one = p
			continue
		}
		if len(to) == 0 {
			to = append(to, one)
		}
		to = append(to, p)
	}
	switch {
	case len(to) > 0:
		distribute(s, to, m)
		for _, p := range to {
			yield = p.Out.TakeMark() || yield
		}
		clear(to)
		x.to = to[:0]
	case one != nil:
		// Offer: over inproc the queue is the subscriber's, which may
		// filter on arrival (a conflating SUB).
		if one.Out.Offer(m) == engine.Full {
			s.st.dropped.Add(1)
		}
		yield = one.Out.TakeMark()
	}
	return yield
}

// sendAll is send with WithPubNoDrop: it waits until every matching
// subscriber has room, then gives m to all of them at once, so that none
// misses it and none gets it twice.
func (x *pubSocket) sendAll(ctx context.Context, m engine.Msg) error {
	s := x.s
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		ch := s.sendSig.wait()
		ready := true
		to := x.to[:0]
		for _, p := range x.pipes {
			if p.Data.(*subscriber).subs.match(m.Head) {
				to = append(to, p)
				if !p.Out.HasRoom() {
					ready = false
					break
				}
			}
		}
		if ready {
			// A queue that closed meanwhile (its subscriber left) takes
			// nothing; the others all have room.
			distribute(s, to, m)
		}
		clear(to)
		x.to = to[:0]
		s.mu.Unlock()
		if ready {
			return nil
		}
		if err := s.wait(ctx, ch); err != nil {
			return err
		}
	}
}

func (x *pubSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	if !x.xpub {
		return engine.Msg{}, ErrNotSupported
	}
	s := x.s
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return engine.Msg{}, ErrClosed
		}
		if len(x.pending) > 0 {
			m := x.pending[0]
			x.pending = x.pending[1:]
			s.mu.Unlock()
			return m, nil
		}
		ch := s.recvSig.wait()
		if len(x.pending) > 0 {
			s.mu.Unlock()
			continue
		}
		m, _, ok := x.fq.tryRecv(from)
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return engine.Msg{}, ErrClosed
		}
		if ok {
			return m, nil
		}
		if err := s.wait(ctx, ch); err != nil {
			return engine.Msg{}, err
		}
	}
}
