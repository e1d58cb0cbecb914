package sockets

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// routerSocket (RFC 28): Recv fair-queues and puts the sending peer's
// routing id in front of the message; Send takes the routing id off the
// front and sends the rest to that peer only. A peer's routing id is the
// one it announced in the handshake, or else one made up here (5 bytes, the
// first zero, as libzmq does).
type routerSocket struct {
	s      *Socket
	fq     fq
	byID   map[string]*engine.Pipe
	nextID uint32
	// named holds the routing ids DialRouted chose, by endpoint, under s.mu.
	named map[string][]byte
}

func newRouter(s *Socket) *routerSocket {
	return &routerSocket{s: s, fq: fq{s: s}, byID: make(map[string]*engine.Pipe), nextID: 1, named: make(map[string][]byte)}
}

func (x *routerSocket) identify(p *engine.Pipe) error {
	id := p.Peer().Identity
	named, isNamed := x.named[p.Endpoint]
	if p.Outbound && isNamed {
		id = named
	}
	if len(id) == 0 {
		b := make([]byte, 5)
		binary.BigEndian.PutUint32(b[1:], x.nextID)
		x.nextID++
		id = b
	}
	// A pipe already terminated (its Dial undone, its peer gone) is on its
	// way out and holds its id no longer.
	if old, dup := x.byID[string(id)]; dup && old != p && !old.Terminated() {
		if !x.s.cfg.routerHandover {
			return fmt.Errorf("%w %q", ErrDuplicateID, id)
		}
		delete(x.byID, string(id))
		old.Data = nil
		old.Terminate() // its engine then detaches it
	}
	if prev, ok := p.Data.([]byte); ok {
		delete(x.byID, string(prev))
	}
	p.Data = id
	x.byID[string(id)] = p
	return nil
}

func (x *routerSocket) attach(p *engine.Pipe) error {
	if _, named := x.named[p.Endpoint]; p.Outbound && p.Peer().Type == "" && !named {
		x.fq.add(p) // a Dial pipe gets its id once connected
		return nil
	}
	if err := x.identify(p); err != nil {
		return err
	}
	x.fq.add(p)
	return nil
}

func (x *routerSocket) detach(p *engine.Pipe) {
	if id, ok := p.Data.([]byte); ok && x.byID[string(id)] == p {
		delete(x.byID, string(id))
	}
}

func (x *routerSocket) connected(p *engine.Pipe) error { return x.identify(p) }

// DialRouted is Dial for a ROUTER that names the peer at endpoint itself:
// the peer has routing id routingID from the start, whatever id it
// announces, so Send can address it at once (messages wait in the pipe
// until it is connected, as for any Dial) and through every reconnect
// (libzmq's ZMQ_CONNECT_ROUTING_ID). The id must be new to the socket.
func (s *Socket) DialRouted(endpoint string, routingID []byte) error {
	x, ok := s.b.(*routerSocket)
	switch {
	case !ok:
		return s.errorf("dial", endpoint, fmt.Errorf("%w: only a ROUTER names its peers", ErrNotSupported))
	case len(routingID) == 0 || len(routingID) > 255:
		return s.errorf("dial", endpoint, fmt.Errorf("%w: a routing id is 1 to 255 bytes, not %d", ErrBadOption, len(routingID)))
	}
	s.mu.Lock()
	p, taken := x.byID[string(routingID)]
	taken = taken && !p.Terminated()
	for _, id := range x.named {
		taken = taken || string(id) == string(routingID)
	}
	_, dialed := s.dialers[endpoint]
	if taken || dialed {
		s.mu.Unlock()
		if dialed {
			return s.errorf("dial", endpoint, fmt.Errorf("%w: already connected", ErrBadEndpoint))
		}
		return s.errorf("dial", endpoint, fmt.Errorf("%w %q", ErrDuplicateID, routingID))
	}
	x.named[endpoint] = append([]byte(nil), routingID...)
	s.mu.Unlock()
	if err := s.Dial(endpoint); err != nil {
		s.mu.Lock()
		delete(x.named, endpoint)
		s.mu.Unlock()
		return err
	}
	return nil
}

func (x *routerSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	m, p, err := x.fq.recv(ctx, func(_ engine.Msg, p *engine.Pipe) bool {
		_, ok := p.Data.([]byte)
		return ok
	}, from)
	if err != nil {
		return m, err
	}
	x.s.mu.Lock()
	id, _ := p.Data.([]byte)
	x.s.mu.Unlock()
	return m.Prepend(id), nil
}

func (x *routerSocket) send(ctx context.Context, m engine.Msg) error {
	if len(m.Tail) == 0 {
		return fmt.Errorf("%w: ROUTER needs a routing id frame and a body", ErrEmptyMessage)
	}
	s := x.s
	id, body := m.Head, m.Pop()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		p := x.byID[string(id)]
		if p == nil {
			s.mu.Unlock()
			if s.cfg.routerMand {
				return fmt.Errorf("%w: %q", ErrHostUnreachable, id)
			}
			s.st.unroutable.Add(1)
			return nil
		}
		ch := s.sendSig.wait()
		switch p.Out.TryPush(body) {
		case engine.Pushed:
			s.mu.Unlock()
			return nil
		case engine.Closed:
			s.mu.Unlock()
			if s.cfg.routerMand {
				return fmt.Errorf("%w: %q", ErrHostUnreachable, id)
			}
			s.st.unroutable.Add(1)
			return nil
		}
		s.mu.Unlock()
		if !s.cfg.routerMand {
			s.st.dropped.Add(1)
			return nil
		}
		if err := s.wait(ctx, ch); err != nil {
			return err
		}
	}
}
