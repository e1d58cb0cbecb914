package sockets

import (
	"context"
	"fmt"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// reqSocket (RFC 28): strict Send/Recv alternation. Send puts an empty
// delimiter frame in front and load-balances to one peer; Recv takes the
// reply only from that peer and strips the delimiter.
type reqSocket struct {
	s  *Socket
	lb lb
	// state, under s.mu: 0 idle, 1 sending, 2 awaiting a reply from pending.
	state   int
	pending *engine.Pipe
}

func (x *reqSocket) attach(p *engine.Pipe) error  { x.lb.add(p); return nil }
func (x *reqSocket) detach(p *engine.Pipe)        { x.lb.remove(p) }
func (x *reqSocket) connected(*engine.Pipe) error { return nil }

func (x *reqSocket) send(ctx context.Context, m engine.Msg) error {
	s := x.s
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
		x.state, x.pending = 2, p
	}
	s.mu.Unlock()
	return err
}

func (x *reqSocket) recv(ctx context.Context) (engine.Msg, error) {
	s := x.s
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
		m, ok, _ := p.In.TryPop()
		if ok {
			if len(m.Head) != 0 || len(m.Tail) == 0 {
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
