package sockets

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// subscriptions is the set of prefixes one subscriber asked for. Changes
// take the mutex and publish a new immutable snapshot; matching, once per
// message and subscriber, only loads the snapshot.
type subscriptions struct {
	mu   sync.Mutex
	set  map[string]struct{}
	snap atomic.Pointer[subSnapshot]
}

type subSnapshot struct {
	prefixes [][]byte // shortest first
	all      bool     // the empty prefix: everything
}

func (t *subscriptions) rebuild() {
	sn := &subSnapshot{}
	for k := range t.set {
		if k == "" {
			sn.all = true
		}
		sn.prefixes = append(sn.prefixes, []byte(k))
	}
	sort.Slice(sn.prefixes, func(i, j int) bool { return len(sn.prefixes[i]) < len(sn.prefixes[j]) })
	t.snap.Store(sn)
}

// add reports whether topic is new to this subscriber.
func (t *subscriptions) add(topic []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.set == nil {
		t.set = make(map[string]struct{})
	}
	if _, ok := t.set[string(topic)]; ok {
		return false
	}
	t.set[string(topic)] = struct{}{}
	t.rebuild()
	return true
}

// remove reports whether topic was there.
func (t *subscriptions) remove(topic []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.set[string(topic)]; !ok {
		return false
	}
	delete(t.set, string(topic))
	t.rebuild()
	return true
}

// clear empties the set and returns what it held.
func (t *subscriptions) clear() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.set))
	for k := range t.set {
		out = append(out, k)
	}
	t.set = nil
	t.rebuild()
	return out
}

func (t *subscriptions) match(data []byte) bool {
	sn := t.snap.Load()
	if sn == nil {
		return false
	}
	if sn.all {
		return true
	}
	for _, p := range sn.prefixes {
		if bytes.HasPrefix(data, p) {
			return true
		}
	}
	return false
}

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
// WithXPubVerbose.
type pubSocket struct {
	s     *Socket
	xpub  bool
	pipes []*engine.Pipe
	fq    fq

	gmu     sync.Mutex
	counts  map[string]int // subscribers per topic (XPUB)
	pending []engine.Msg   // cancels from departed subscribers (XPUB), under s.mu
}

func newPub(s *Socket, xpub bool) *pubSocket {
	return &pubSocket{s: s, xpub: xpub, fq: fq{s: s}, counts: make(map[string]int)}
}

func (x *pubSocket) attach(p *engine.Pipe) error {
	subs := &subscriptions{}
	p.Data = subs
	p.In.SetIntercept(func(m engine.Msg) bool { return x.incoming(p, subs, m) })
	x.pipes = append(x.pipes, p)
	if x.xpub {
		x.fq.add(p)
	}
	return nil
}

// incoming runs as a subscriber's message arrives; it reports whether the
// message goes on to Recv.
func (x *pubSocket) incoming(p *engine.Pipe, subs *subscriptions, m engine.Msg) bool {
	topic, sub, ok := subscription(m)
	if !ok {
		return x.xpub // XSUB may send other messages upstream
	}
	if sub {
		if allow := x.s.cfg.subFilter; allow != nil && !allow(peerOf(p.PeerRef()), topic) {
			x.s.st.subsRefused.Add(1)
			return false // as if never asked: its cancel finds nothing either
		}
		first := subs.add(topic)
		x.gmu.Lock()
		if first {
			x.counts[string(topic)]++
		}
		n := x.counts[string(topic)]
		x.gmu.Unlock()
		return x.xpub && ((first && n == 1) || x.s.cfg.xpubVerbose)
	}
	if !subs.remove(topic) {
		return false
	}
	return x.xpub && x.release(string(topic))
}

// release drops one subscriber from topic; it reports whether none is left.
func (x *pubSocket) release(topic string) bool {
	x.gmu.Lock()
	defer x.gmu.Unlock()
	x.counts[topic]--
	if x.counts[topic] <= 0 {
		delete(x.counts, topic)
		return true
	}
	return false
}

// forget clears a subscriber's topics (it left, or reconnected and will
// subscribe again). Called with s.mu held.
func (x *pubSocket) forget(p *engine.Pipe) {
	subs, ok := p.Data.(*subscriptions)
	if !ok {
		return
	}
	for _, t := range subs.clear() {
		if x.release(t) && x.xpub {
			x.pending = append(x.pending, engine.Msg{Head: append([]byte{0}, t...)})
		}
	}
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
	x.forget(p)
}

func (x *pubSocket) connected(p *engine.Pipe) error { x.forget(p); return nil }

func (x *pubSocket) send(ctx context.Context, m engine.Msg) error {
	s := x.s
	if s.cfg.pubNoDrop {
		return x.sendAll(ctx, m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, p := range x.pipes {
		if !p.Data.(*subscriptions).match(m.Head) {
			continue
		}
		// Offer: over inproc the queue is the subscriber's, which may
		// filter on arrival (a conflating SUB).
		if p.Out.Offer(m) == engine.Full {
			s.st.dropped.Add(1)
		}
	}
	return nil
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
		for _, p := range x.pipes {
			if p.Data.(*subscriptions).match(m.Head) && !p.Out.HasRoom() {
				ready = false
				break
			}
		}
		if ready {
			for _, p := range x.pipes {
				// A queue that closed meanwhile (its subscriber left)
				// takes nothing; the others all have room.
				if p.Data.(*subscriptions).match(m.Head) {
					p.Out.Offer(m)
				}
			}
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
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
