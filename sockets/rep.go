package sockets

import (
	"context"
	"fmt"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// repSocket (RFC 28): Recv fair-queues requests and keeps their envelope
// (every frame up to and including the empty delimiter); Send puts that
// envelope back in front of the reply and sends it to the requester. Strict
// alternation. A reply to a peer that is gone or full is dropped and counted.
type repSocket struct {
	s       *Socket
	fq      fq
	state   int // under s.mu: 0 idle, 1 receiving, 2 owes a reply
	pending *engine.Pipe
	env     [][]byte
}

func (x *repSocket) attach(p *engine.Pipe) error  { x.fq.add(p); return nil }
func (x *repSocket) detach(*engine.Pipe)          {}
func (x *repSocket) connected(*engine.Pipe) error { return nil }

func (x *repSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	s := x.fq.s
	s.mu.Lock()
	if x.state != 0 {
		s.mu.Unlock()
		return engine.Msg{}, fmt.Errorf("%w: REP must send the reply before receiving again", ErrState)
	}
	x.state = 1
	s.mu.Unlock()
	var env, body [][]byte
	_, p, err := x.fq.recv(ctx, func(m engine.Msg, _ *engine.Pipe) bool {
		frames := m.Frames()
		for i, f := range frames {
			if len(f) == 0 {
				if i == len(frames)-1 {
					return false // no body
				}
				env, body = frames[:i+1:i+1], frames[i+1:]
				return true
			}
		}
		return false // no delimiter: malformed, dropped as libzmq does
	}, from)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		x.state = 0
		return engine.Msg{}, err
	}
	x.state, x.pending, x.env = 2, p, env
	return engine.Msg{Head: body[0], Tail: body[1:len(body):len(body)]}, nil
}

func (x *repSocket) send(_ context.Context, m engine.Msg) error {
	s := x.fq.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if x.state != 2 {
		s.mu.Unlock()
		return fmt.Errorf("%w: REP must receive a request before replying", ErrState)
	}
	p, env := x.pending, x.env
	x.state, x.pending, x.env = 0, nil, nil
	s.mu.Unlock()
	out := make([][]byte, 0, len(env)+m.Len())
	out = append(out, env...)
	out = append(out, m.Head)
	out = append(out, m.Tail...)
	if p.Out.TryPush(engine.Msg{Head: out[0], Tail: out[1:]}) != engine.Pushed {
		s.st.dropped.Add(1)
	}
	return nil
}
