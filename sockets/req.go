package sockets

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// reqSocket (RFC 28): strict Send/Recv alternation. Send puts an empty
// delimiter frame in front and load-balances to one peer; Recv takes the
// reply only from that peer and strips the delimiter.
//
// WithReqRelaxed and WithReqCorrelate take another path (sendOpts,
// recvOpts), so that the strict socket pays one branch for them:
//   - relaxed: Send is allowed while a reply is outstanding; it abandons
//     that request, drops the replies already queued, and Recv then waits
//     for the reply to the new request, from the peer it went to.
//   - correlate: each request carries a 4-byte id before the delimiter, and
//     only a reply that echoes the current id is taken. The id starts at a
//     random value and goes up by one per request, as in libzmq.
//
// Replies dropped on either path are counted in Stats.DroppedReplies.
type reqSocket struct {
	s  *Socket
	lb lb
	// state, under s.mu: 0 idle, 1 sending, 2 awaiting a reply from pending.
	state   int
	pending *engine.Pipe
	// seq is the request's number in pending.Out (Queue.Tail), to tell
	// whether the connection that took it has ended (Pipe.Orphaned).
	seq uint64
	// id is the current request id (correlate), under s.mu; idSet says it
	// has been seeded.
	id    uint32
	idSet bool
}

func (x *reqSocket) attach(p *engine.Pipe) error  { x.lb.add(p); return nil }
func (x *reqSocket) detach(p *engine.Pipe)        { x.lb.remove(p) }
func (x *reqSocket) connected(*engine.Pipe) error { return nil }

func (x *reqSocket) send(ctx context.Context, m engine.Msg) error {
	s := x.s
	if s.cfg.reqRelaxed || s.cfg.reqCorrelate {
		return x.sendOpts(ctx, m)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if x.state != 0 {
		s.mu.Unlock()
		return fmt.Errorf("%w: REQ must receive the reply before sending again", ErrState)
	}
	x.state = 1
	s.mu.Unlock()
	p, err := x.lb.send(ctx, m.Prepend([]byte{}))
	s.mu.Lock()
	if err != nil {
		x.state = 0
	} else {
		x.state, x.pending, x.seq = 2, p, p.Out.Tail()
	}
	s.mu.Unlock()
	return err
}

// lost reports that the pending request cannot be answered: its pipe is
// gone (closed, here or by the peer, with nothing left to read), or the
// connection that took the request has ended. Called with s.mu held.
func (x *reqSocket) lost(inClosed bool) bool {
	return inClosed || x.pending.Orphaned() >= x.seq
}

func (x *reqSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	s := x.s
	if s.cfg.reqRelaxed || s.cfg.reqCorrelate {
		return x.recvOpts(ctx, from)
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return engine.Msg{}, ErrClosed
		}
		if x.state != 2 {
			s.mu.Unlock()
			return engine.Msg{}, fmt.Errorf("%w: REQ must send a request before receiving", ErrState)
		}
		p := x.pending
		ch := s.recvSig.wait()
		m, ok, closed := popFrom(p, from)
		if !ok && x.lost(closed) {
			x.state, x.pending = 0, nil
			s.mu.Unlock()
			return engine.Msg{}, ErrRequestLost
		}
		if ok {
			if len(m.Head) != 0 || len(m.Tail) == 0 {
				s.st.droppedReplies.Add(1)
				s.mu.Unlock()
				continue // not a well-formed reply: drop it, as libzmq does
			}
			x.state, x.pending = 0, nil
			s.mu.Unlock()
			return m.Pop(), nil
		}
		s.mu.Unlock()
		if err := s.wait(ctx, ch); err != nil {
			return engine.Msg{}, err
		}
	}
}

// dropAll is a RemoveIf filter that takes everything.
func dropAll(engine.Msg) bool { return true }

// sendOpts is send for a relaxed or correlating REQ.
func (x *reqSocket) sendOpts(ctx context.Context, m engine.Msg) error {
	s := x.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	switch {
	case x.state == 1:
		// Two requests in flight at once would leave it unclear which
		// one Recv answers.
		s.mu.Unlock()
		return fmt.Errorf("%w: REQ is sending another request", ErrState)
	case x.state == 2 && !s.cfg.reqRelaxed:
		s.mu.Unlock()
		return fmt.Errorf("%w: REQ must receive the reply before sending again", ErrState)
	}
	x.state, x.pending = 1, nil
	if s.cfg.reqRelaxed {
		// Whatever is queued now answers an earlier request. Dropping it
		// here, before the new request leaves, cannot lose the new reply.
		for _, p := range x.lb.pipes {
			if n := p.In.RemoveIf(dropAll); n > 0 {
				s.st.droppedReplies.Add(uint64(n))
			}
		}
	}
	var out engine.Msg
	if s.cfg.reqCorrelate {
		if !x.idSet {
			x.id, x.idSet = rand.Uint32(), true
		}
		x.id++
		// The id is opaque to the peer, which echoes it; big-endian
		// keeps it the same on every host.
		tail := make([][]byte, 0, 2+len(m.Tail))
		tail = append(tail, []byte{}, m.Head)
		tail = append(tail, m.Tail...)
		out = engine.Msg{Head: binary.BigEndian.AppendUint32(make([]byte, 0, 4), x.id), Tail: tail}
	} else {
		out = m.Prepend([]byte{})
	}
	s.mu.Unlock()
	p, err := x.lb.send(ctx, out)
	s.mu.Lock()
	if err != nil {
		x.state = 0
	} else {
		x.state, x.pending, x.seq = 2, p, p.Out.Tail()
	}
	s.mu.Unlock()
	// A relaxed Recv may be waiting for this request to leave.
	s.recvSig.fire()
	return err
}

// recvOpts is recv for a relaxed or correlating REQ.
func (x *reqSocket) recvOpts(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	s := x.s
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return engine.Msg{}, ErrClosed
		}
		switch {
		case x.state == 1 && s.cfg.reqRelaxed:
			// Another goroutine is sending a newer request: wait for its
			// reply instead (sendOpts fires recvSig when it is out).
			ch := s.recvSig.wait()
			s.mu.Unlock()
			if err := s.wait(ctx, ch); err != nil {
				return engine.Msg{}, err
			}
			continue
		case x.state != 2:
			s.mu.Unlock()
			return engine.Msg{}, fmt.Errorf("%w: REQ must send a request before receiving", ErrState)
		}
		ch := s.recvSig.wait()
		for {
			m, ok, closed := popFrom(x.pending, from)
			if !ok {
				if x.lost(closed) {
					x.state, x.pending = 0, nil
					s.mu.Unlock()
					return engine.Msg{}, ErrRequestLost
				}
				break
			}
			if body, ok := x.unwrap(m); ok {
				x.state, x.pending = 0, nil
				s.mu.Unlock()
				return body, nil
			}
			s.st.droppedReplies.Add(1)
		}
		s.mu.Unlock()
		if err := s.wait(ctx, ch); err != nil {
			return engine.Msg{}, err
		}
	}
}

// unwrap checks that m answers the current request and strips its
// envelope: the id (correlate), then the empty delimiter; a body must
// follow. Called with s.mu held.
func (x *reqSocket) unwrap(m engine.Msg) (engine.Msg, bool) {
	if x.s.cfg.reqCorrelate {
		if len(m.Head) != 4 || binary.BigEndian.Uint32(m.Head) != x.id || len(m.Tail) == 0 {
			return engine.Msg{}, false
		}
		m = m.Pop()
	}
	if len(m.Head) != 0 || len(m.Tail) == 0 {
		return engine.Msg{}, false
	}
	return m.Pop(), true
}
