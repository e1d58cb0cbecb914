package sockets

import (
	"context"
	"fmt"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// subSocket (RFC 29) receives, fair-queued, the messages whose first frame
// starts with one of its subscriptions, and tells every publisher what it
// subscribes to, again after each reconnect. As XSUB it filters nothing on
// receipt, and subscriptions are messages sent to it (first byte 1 or 0).
type subSocket struct {
	s     *Socket
	xsub  bool
	fq    fq
	pipes []*engine.Pipe
	// subs counts the subscriptions per topic. Changes hold s.mu and then
	// subs' own lock; matching takes only the latter, because a conflating
	// SUB matches as messages arrive, on the reader's goroutine.
	subs subscriptions
}

func newSub(s *Socket, xsub bool) *subSocket {
	x := &subSocket{s: s, xsub: xsub, fq: fq{s: s}}
	for _, t := range s.cfg.subscribe {
		x.subs.ref([]byte(t))
	}
	return x
}

func subMsg(sub bool, topic []byte) engine.Msg {
	b := make([]byte, 1+len(topic))
	if sub {
		b[0] = 1
	}
	copy(b[1:], topic)
	return engine.Msg{Head: b}
}

// announce sends every subscription to p. Called with s.mu held, which
// keeps subs from changing: subs' lock is not held while p's queue (an
// inproc publisher's interceptor) takes the messages.
func (x *subSocket) announce(p *engine.Pipe) {
	x.subs.trie.each(func(t []byte, _ int) {
		if p.Out.Offer(subMsg(true, t)) != engine.Pushed {
			x.s.st.dropped.Add(1)
		}
	})
}

func (x *subSocket) attach(p *engine.Pipe) error {
	if x.s.cfg.ConflateIn && !x.xsub {
		// Keeping only the newest message must mean the newest one this
		// SUB wants: filter before the queue, not after.
		p.In.SetIntercept(func(m engine.Msg) bool { return x.matches(m.Head) })
	}
	x.pipes = append(x.pipes, p)
	x.fq.add(p)
	x.announce(p)
	return nil
}

func (x *subSocket) detach(p *engine.Pipe) {
	for i, q := range x.pipes {
		if q == p {
			x.pipes = append(x.pipes[:i], x.pipes[i+1:]...)
			return
		}
	}
}

// connected: a new publisher behind a Dial pipe knows nothing of us yet.
//
// Subscriptions still queued for the old peer are dropped and announced
// afresh; anything else an XSUB queued (upstream messages) stays.
func (x *subSocket) connected(p *engine.Pipe) error {
	p.Out.RemoveIf(func(m engine.Msg) bool {
		_, _, ok := subscription(m)
		return ok
	})
	x.announce(p)
	return nil
}

// toAll sends m to every publisher. Called with s.mu held.
func (x *subSocket) toAll(m engine.Msg) { distribute(x.s, x.pipes, m) }

// subscribe counts one more (on) or one less subscription to topic, and
// tells the publishers with m, the subscription message for it (made
// here if m.Head is nil): every subscribe, as libzmq does, and the last
// cancel. Called with s.mu held.
func (x *subSocket) subscribe(topic []byte, on bool, m engine.Msg) {
	if on {
		x.subs.ref(topic)
	} else if !x.subs.unref(topic) {
		return
	}
	if m.Head == nil {
		m = subMsg(on, topic)
	}
	x.toAll(m)
}

func (x *subSocket) matches(data []byte) bool { return x.subs.match(data) }

func (x *subSocket) send(_ context.Context, m engine.Msg) error {
	if !x.xsub {
		return ErrNotSupported
	}
	s := x.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if topic, sub, ok := subscription(m); ok {
		// m is ours (Send takes the frames over): it goes on as it is.
		x.subscribe(topic, sub, m)
		return nil
	}
	x.toAll(m)
	return nil
}

func (x *subSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	m, _, err := x.fq.recv(ctx, func(m engine.Msg, _ *engine.Pipe) bool {
		return x.xsub || x.matches(m.Head)
	}, from)
	return m, err
}

// Subscribe asks publishers for messages whose first frame starts with
// prefix ("" for all). Subscriptions are counted: each Subscribe needs its
// own Unsubscribe. SUB and XSUB only.
func (s *Socket) Subscribe(prefix string) error { return s.setSub(prefix, true) }

// Unsubscribe undoes one Subscribe(prefix).
func (s *Socket) Unsubscribe(prefix string) error { return s.setSub(prefix, false) }

func (s *Socket) setSub(prefix string, on bool) error {
	op := "subscribe"
	if !on {
		op = "unsubscribe"
	}
	x, ok := s.b.(*subSocket)
	if !ok {
		return s.errorf(op, "", fmt.Errorf("%w: only SUB and XSUB subscribe", ErrNotSupported))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errorf(op, "", ErrClosed)
	}
	x.subscribe([]byte(prefix), on, engine.Msg{})
	return nil
}
