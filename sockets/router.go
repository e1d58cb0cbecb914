package sockets

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// routerSocket (RFC 28): Recv fair-queues and puts the sending peer's
// routing id in front of the message; Send takes the routing id off the
// front and sends the rest to that peer only. A peer's routing id is the
// one it announced in the handshake, or else one made up here: 5 bytes, a
// zero and 4 random ones, as libzmq makes them (libzmq counts on from a
// random start; every id is drawn afresh here, so that knowing one tells
// nothing of the next). Ids that start with a zero byte are the ROUTER's
// to give (RFC 23): a peer announcing one is treated as anonymous.
type routerSocket struct {
	s    *Socket
	fq   fq
	byID map[string]*engine.Pipe
	// named holds the routing ids DialRouted chose, by endpoint, under s.mu.
	named map[string][]byte
}

// route is what a ROUTER keeps on a pipe (Pipe.Data): the id it routes the
// peer by, and whether the peer chose that id itself. Only such an id may
// pass to a newer peer with WithRouterHandover: a generated id, or one
// DialRouted gave, stays with its pipe.
type route struct {
	id     []byte
	chosen bool
}

func newRouter(s *Socket) *routerSocket {
	return &routerSocket{s: s, fq: fq{s: s}, byID: make(map[string]*engine.Pipe), named: make(map[string][]byte)}
}

// routeID is the id a ROUTER knows p by, or nil. Called with s.mu held.
func routeID(p *engine.Pipe) []byte {
	if r, ok := p.Data.(*route); ok {
		return r.id
	}
	return nil
}

// generate makes a routing id for an anonymous peer, unused now.
func (x *routerSocket) generate() []byte {
	for {
		id := make([]byte, 5)
		_, _ = rand.Read(id[1:]) // crypto/rand.Read does not fail
		if _, taken := x.byID[string(id)]; taken || x.isNamed(id) {
			continue
		}
		return id
	}
}

func (x *routerSocket) isNamed(id []byte) bool {
	for _, n := range x.named {
		if string(n) == string(id) {
			return true
		}
	}
	return false
}

func (x *routerSocket) identify(p *engine.Pipe) error {
	var id []byte
	chosen := false
	if named, isNamed := x.named[p.Endpoint]; p.Outbound && isNamed {
		id = named
	} else if a := p.Peer().Identity; len(a) > 0 && a[0] != 0 {
		id, chosen = a, true
	} else {
		id = x.generate()
	}
	// A pipe already terminated (its Dial undone, its peer gone) is on its
	// way out and holds its id no longer.
	if old, dup := x.byID[string(id)]; dup && old != p && !old.Terminated() {
		held, _ := old.Data.(*route)
		if !x.s.cfg.routerHandover || !chosen || held == nil || !held.chosen {
			return fmt.Errorf("%w %q", ErrDuplicateID, id)
		}
		delete(x.byID, string(id))
		old.Data = nil
		old.Terminate() // its engine then detaches it
	}
	if prev := routeID(p); prev != nil {
		delete(x.byID, string(prev))
	}
	p.Data = &route{id: id, chosen: chosen}
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
	if id := routeID(p); id != nil && x.byID[string(id)] == p {
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
	set, _ := s.cfg.resolverFor(endpoint)
	switch {
	case !ok:
		return s.errorf("dial", endpoint, fmt.Errorf("%w: only a ROUTER names its peers", ErrNotSupported))
	case set != nil:
		return s.errorf("dial", endpoint, fmt.Errorf("%w: a dial set names its members by their endpoints; Dial it", ErrNotSupported))
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
		return routeID(p) != nil
	}, from)
	if err != nil {
		return m, err
	}
	x.s.mu.Lock()
	id := routeID(p)
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
