package sockets

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// dialSet is one Dial of a resolver's endpoint (dns://workers:5555): a
// Dialer, and so a pipe, per member endpoint its resolver lists, added and
// removed as the list changes. The socket type's strategy then does with
// the members' pipes what it does with any: PUSH, DEALER and REQ balance
// over them, SUB subscribes at each, PUB sends to each, a ROUTER routes to
// each by its endpoint.
type dialSet struct {
	s        *Socket
	endpoint string // as given to Dial
	cancel   context.CancelFunc
	refresh  chan struct{} // to the resolver: look again (a member failed)

	mu      sync.Mutex // serialises updates and stop
	stopped bool
	members map[string]*engine.Dialer // by member endpoint, under mu
}

// targetChecker is a built-in resolver that can tell a malformed target
// before Dial starts following it.
type targetChecker interface{ check(target string) error }

// resolverFor returns the resolver of endpoint's scheme, the socket's own
// (WithResolver) before the built-in ones, or nil when the scheme is not a
// resolver's (a transport's, or unknown).
func (c *config) resolverFor(endpoint string) (Resolver, string) {
	scheme, target, ok := strings.Cut(endpoint, "://")
	if !ok {
		return nil, ""
	}
	if r, ok := c.resolvers[scheme]; ok {
		return r, target
	}
	switch scheme {
	case "dns", "srv":
		return &dnsResolver{r: c.dns, server: c.dnsAddr, interval: c.resolveInterval, timeout: c.resolveTimeout, srv: scheme == "srv"}, target
	case "list":
		return listResolver{}, target
	}
	return nil, ""
}

// checkSet checks the endpoint of a built-in resolver: dns://NAME:PORT,
// srv://NAME, list://HOST:PORT,…; handled reports whether it is one.
func checkSet(endpoint string) (handled bool, err error) {
	var c config
	r, target := c.resolverFor(endpoint)
	if r == nil {
		return false, nil
	}
	return true, r.(targetChecker).check(target)
}

// checkMember checks an endpoint a resolver listed.
func checkMember(ep string) error {
	_, err := engine.ParseEndpoint(ep, false)
	return err
}

// dialSet starts following endpoint with r.
func (s *Socket) dialSet(endpoint, target string, r Resolver) error {
	if c, ok := r.(targetChecker); ok {
		if err := c.check(target); err != nil {
			return s.errorf("dial", endpoint, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ds := &dialSet{
		s: s, endpoint: endpoint, cancel: cancel,
		refresh: make(chan struct{}, 1),
		members: make(map[string]*engine.Dialer),
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		cancel()
		return s.errorf("dial", endpoint, ErrClosed)
	case s.sets[endpoint] != nil || s.dialers[endpoint] != nil:
		s.mu.Unlock()
		cancel()
		return s.errorf("dial", endpoint, fmt.Errorf("%w: already connected", ErrBadEndpoint))
	}
	s.sets[endpoint] = ds
	s.mu.Unlock()
	ok := s.g.Go(func() {
		err := r.Watch(ctx, target, ds.refresh, ds.update)
		if ctx.Err() == nil {
			if err == nil {
				err = errWatchEnded
			}
			ds.emit(engine.EventResolveError, "", err)
		}
	})
	if !ok {
		s.mu.Lock()
		delete(s.sets, endpoint)
		s.mu.Unlock()
		cancel()
		return s.errorf("dial", endpoint, ErrClosed)
	}
	return nil
}

var errWatchEnded = fmt.Errorf("resolver stopped watching")

func (ds *dialSet) emit(k engine.EventKind, member string, err error) {
	(*host)(ds.s).Emit(engine.Event{Kind: k, Endpoint: ds.endpoint, Remote: member, Err: err})
}

// update applies a resolver's report (see Resolver).
func (ds *dialSet) update(eps []string, err error) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.stopped {
		return
	}
	if err != nil {
		ds.emit(engine.EventResolveError, "", err)
		if eps == nil {
			return // a failed lookup: keep the members
		}
	}
	s := ds.s
	// The new set: well-formed endpoints, each once.
	want := make(map[string]bool, min(len(eps), s.cfg.maxMembers))
	var order []string
	var bad []string
	for _, e := range eps {
		p, perr := engine.ParseEndpoint(e, false)
		if perr != nil {
			bad = append(bad, e)
			continue
		}
		e = p.String()
		if _, dup := want[e]; !dup {
			want[e] = false
			order = append(order, e)
		}
	}
	if len(bad) > 0 {
		ds.emit(engine.EventResolveError, "", fmt.Errorf("%w: %d of the endpoints listed cannot be dialed, as %q", ErrBadEndpoint, len(bad), bad[0]))
	}
	// Over the cap: the members the set has stay, new ones come in order.
	if over := len(order) - s.cfg.maxMembers; over > 0 {
		kept := make([]string, 0, s.cfg.maxMembers)
		for _, e := range order {
			if ds.members[e] != nil {
				kept = append(kept, e)
			}
		}
		for _, e := range order {
			if len(kept) == s.cfg.maxMembers {
				break
			}
			if ds.members[e] == nil {
				kept = append(kept, e)
			}
		}
		clear(want)
		for _, e := range kept {
			want[e] = false
		}
		order = kept
		s.st.membersOverCap.Add(uint64(over))
		ds.emit(engine.EventResolveError, "", fmt.Errorf("%w: %d listed, %d kept (WithMaxMembers)", ErrTooManyMembers, over+len(kept), len(kept)))
	}
	for e, d := range ds.members {
		if _, keep := want[e]; !keep {
			ds.remove(e, d, true)
		}
	}
	for _, e := range order {
		if ds.members[e] == nil {
			ds.add(e)
		}
	}
}

// add dials member e. Called with ds.mu held.
func (ds *dialSet) add(e string) {
	s := ds.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.memMu.Lock()
	if s.dialers[e] != nil || s.memberOf[e] != nil {
		s.memMu.Unlock()
		s.mu.Unlock()
		ds.emit(engine.EventResolveError, e, fmt.Errorf("%w: %s is dialed already by this socket", ErrBadEndpoint, e))
		return
	}
	s.memberOf[e] = ds
	s.memMu.Unlock()
	named := false
	if x, ok := s.b.(*routerSocket); ok {
		// A ROUTER routes to a member by its endpoint, from the start and
		// through reconnects, as DialRouted: the application learns it
		// from EventMemberAdded. An id a peer took already (it announced
		// it) leaves the member to the usual rules.
		p, taken := x.byID[e]
		if !(taken && !p.Terminated()) && !x.isNamed([]byte(e)) {
			x.named[e] = []byte(e)
			named = true
		}
	}
	s.mu.Unlock()
	d, err := engine.Dial((*host)(s), &s.g, e)
	if err != nil {
		s.memMu.Lock()
		delete(s.memberOf, e)
		s.memMu.Unlock()
		s.mu.Lock()
		if named {
			delete(s.b.(*routerSocket).named, e)
		}
		s.mu.Unlock()
		ds.emit(engine.EventResolveError, e, err)
		return
	}
	ds.members[e] = d
	ds.emit(engine.EventMemberAdded, e, nil)
}

// remove lets member e go: no more messages for it, and what its pipe
// holds is delivered within the linger if it is connected, or else (PUSH,
// DEALER) handed to the other members. Called with ds.mu held.
func (ds *dialSet) remove(e string, d *engine.Dialer, retire bool) {
	s := ds.s
	delete(ds.members, e)
	s.memMu.Lock()
	delete(s.memberOf, e)
	s.memMu.Unlock()
	s.mu.Lock()
	if x, ok := s.b.(*routerSocket); ok {
		delete(x.named, e)
	}
	s.mu.Unlock()
	d.Close()
	ds.emit(engine.EventMemberRemoved, e, nil)
	if retire {
		s.g.Go(func() { s.retire(d) })
	}
}

// stop ends the set: the resolver stops and every member goes.
func (ds *dialSet) stop(retire bool) {
	ds.cancel()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	ds.stopped = true
	for e, d := range ds.members {
		ds.remove(e, d, retire)
	}
}

// poke asks the resolver to look again.
func (ds *dialSet) poke() {
	select {
	case ds.refresh <- struct{}{}:
	default:
	}
}

// retire waits for a member's Dialer that was closed to deliver what its
// pipe holds, for at most the linger period, and then abandons it. Where
// the socket balances (PUSH, DEALER), what is left then — all of it, for a
// member that was not connected — goes to the other members, so a member
// leaving the set loses none of what the socket queued for it.
func (s *Socket) retire(d *engine.Dialer) {
	if d.Connected() {
		t := time.NewTimer(s.cfg.linger)
		select {
		case <-d.Done():
		case <-t.C:
		case <-s.closeCh:
			t.Stop()
			return // Close delivers or drops, as for any Dial
		}
		t.Stop()
	}
	d.Abandon()
	select {
	case <-d.Done():
	case <-s.closeCh:
		return
	}
	p := d.Pipe() // nil with WithImmediate: nothing waits unconnected
	if p == nil || s.typ != Push && s.typ != Dealer {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.linger, time.Second))
	defer cancel()
	for {
		m, ok, _ := p.Out.TryPop()
		if !ok {
			return
		}
		if err := s.b.send(ctx, m); err != nil {
			s.st.dropped.Add(1)
		}
	}
}

// memberFailed is told of each connection event: a member's connection that
// failed or ended asks its set's resolver to look again.
func (s *Socket) memberFailed(ev *engine.Event) {
	switch ev.Kind {
	case engine.EventConnectRetried, engine.EventDisconnected, engine.EventDialStopped, engine.EventHandshakeFailed:
	default:
		return
	}
	s.memMu.Lock()
	ds := s.memberOf[ev.Endpoint]
	s.memMu.Unlock()
	if ds != nil {
		ds.poke()
	}
}
