package sockets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// A Resolver follows the set of endpoints behind a name, so that one Dial
// reaches every member of a service rather than one address. Implement it for
// a service registry (Consul, etcd, Kubernetes, …) and register it with
// WithResolver; dns://, srv:// and list:// are built in.
//
// Watch reports target (what follows "scheme://" in the dialed endpoint) to
// update: the whole current set each time, as endpoints a socket can dial
// (tcp://host:port, ipc://path), first as soon as it is known and again
// whenever it changes, until ctx ends; Watch then returns. A failed lookup is
// reported as update(nil, err), and the socket keeps the members it has: only
// a successful update, even an empty one, changes the set. An update with
// both a set and an error is a set usable only in part (some names in it did
// not resolve, say): the socket takes the set and reports the error. A value
// on refresh asks for a new lookup now (the socket saw a member fail); a
// resolver that is told of changes rather than polling may ignore it. update
// is never called concurrently with itself by the socket's own resolvers,
// and must not be by others. A Watch that returns before ctx ends, with an
// error or not, stops following the name: the socket reports it as
// EventResolveError and keeps the members it has.
//
// One Resolver value may serve several Dials (and sockets) at once: each
// Dial calls Watch once, for as long as it lasts.
type Resolver interface {
	Watch(ctx context.Context, target string, refresh <-chan struct{}, update func(endpoints []string, err error)) error
}

// Defaults of the dial-set options.
const (
	// DefaultResolveInterval is how often dns:// and srv:// look their name
	// up again (WithResolveInterval).
	DefaultResolveInterval = 30 * time.Second
	// DefaultResolveTimeout bounds each of their lookups
	// (WithResolveTimeout).
	DefaultResolveTimeout = 5 * time.Second
	// DefaultMaxMembers bounds the members of one dial set
	// (WithMaxMembers).
	DefaultMaxMembers = 1024
)

// ErrTooManyMembers is the reason of the EventResolveError of an update
// that listed more members than WithMaxMembers allows; the excess is left
// out and counted in Stats.MembersOverCap.
var ErrTooManyMembers = errors.New("more members than the dial set's cap")

// reserved are the schemes WithResolver cannot take: the transports.
var reserved = []string{"tcp", "ipc", "inproc", "ws", "wss"}

// WithResolver makes Dial("scheme://target") a dial set that r follows:
// one connection per member endpoint r reports, added and removed as r's set
// changes (see Socket.Dial). It also replaces a built-in scheme (dns, srv,
// list) for this socket. A scheme is letters, digits, '+', '-' and '.', and
// cannot be a transport's (tcp, ipc, inproc, ws, wss).
func WithResolver(scheme string, r Resolver) Option {
	return func(c *config) error {
		if r == nil {
			return fmt.Errorf("%w: nil resolver for %q", ErrBadOption, scheme)
		}
		if !validScheme(scheme) || slices.Contains(reserved, strings.ToLower(scheme)) {
			return fmt.Errorf("%w: resolver scheme %q", ErrBadOption, scheme)
		}
		if c.resolvers == nil {
			c.resolvers = make(map[string]Resolver)
		}
		c.resolvers[scheme] = r
		return nil
	}
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// WithDNSServer makes the socket's dns:// and srv:// lookups ask the DNS
// server at addr (host:port, over UDP and, for long answers, TCP) instead
// of the system's resolver: for a test's server, or a machine whose
// resolver is not the one that knows the service. Only those lookups use
// it; a tcp:// Dial of a host name resolves as the system does.
func WithDNSServer(addr string) Option {
	return func(c *config) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%w: DNS server %q: %v", ErrBadOption, addr, err)
		}
		c.dns, c.dnsAddr = DNSServer(addr), addr
		return nil
	}
}

// DNSServer returns a resolver that asks the DNS server at addr
// (host:port) and nothing else, as WithDNSServer uses.
func DNSServer(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// net goes on with a lookup whose caller gave up (for other
			// callers of the same lookup) until the resolver's own timeout
			// (5 s a try by default): when it does cancel the exchange,
			// end it now rather than at that timeout.
			context.AfterFunc(ctx, func() { _ = c.Close() })
			return c, nil
		},
	}
}

// WithResolveInterval sets how often dns:// and srv:// dial sets look their
// name up again (default DefaultResolveInterval). They also look it up when
// a member's connection fails or ends, at most once a second (or once per
// interval, if shorter).
func WithResolveInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: resolve interval %v <= 0", ErrBadOption, d)
		}
		c.resolveInterval = d
		return nil
	}
}

// WithResolveTimeout bounds each lookup of a dns:// or srv:// dial set
// (default DefaultResolveTimeout): a DNS server that does not answer costs a
// EventResolveError after d, and the set keeps its members.
func WithResolveTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: resolve timeout %v <= 0", ErrBadOption, d)
		}
		c.resolveTimeout = d
		return nil
	}
}

// WithMaxMembers caps the members of each dial set (default
// DefaultMaxMembers). An update listing more keeps the members the set has
// first, then takes new ones in the order given; the rest are left out,
// counted in Stats.MembersOverCap and reported with EventResolveError
// (ErrTooManyMembers).
func WithMaxMembers(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: max members %d <= 0", ErrBadOption, n)
		}
		c.maxMembers = n
		return nil
	}
}

// StaticResolver is a Resolver whose set the program gives: the endpoints
// passed to NewStaticResolver, then to each Set. Register it with
// WithResolver under a scheme of your choice; the target of the dialed
// endpoint is ignored. For a fixed list written in the endpoint itself,
// Dial "list://host1:port,host2:port" instead. It is safe for concurrent
// use and may serve any number of Dials.
type StaticResolver struct {
	mu       sync.Mutex
	eps      []string
	watchers map[chan struct{}]struct{}
}

// NewStaticResolver returns a StaticResolver holding endpoints.
func NewStaticResolver(endpoints ...string) *StaticResolver {
	return &StaticResolver{eps: slices.Clone(endpoints), watchers: make(map[chan struct{}]struct{})}
}

// Set replaces the set; every Dial that follows r hears of it.
func (r *StaticResolver) Set(endpoints ...string) {
	r.mu.Lock()
	r.eps = slices.Clone(endpoints)
	for ch := range r.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
}

// Watch is Resolver.Watch.
func (r *StaticResolver) Watch(ctx context.Context, _ string, _ <-chan struct{}, update func([]string, error)) error {
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	r.mu.Lock()
	r.watchers[ch] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.watchers, ch)
		r.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
			r.mu.Lock()
			eps := slices.Clone(r.eps)
			r.mu.Unlock()
			if eps == nil {
				eps = []string{}
			}
			update(eps, nil)
		}
	}
}

// listResolver is list://: the target is the set, endpoints separated by
// commas or semicolons (for command lines whose lists take the commas); an
// element without a transport is tcp (host:port).
type listResolver struct{}

func (listResolver) check(target string) error {
	for _, e := range listTargets(target) {
		if err := checkMember(e); err != nil {
			return err
		}
	}
	return nil
}

func listTargets(target string) []string {
	var out []string
	for _, e := range strings.FieldsFunc(target, func(r rune) bool { return r == ',' || r == ';' }) {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if !strings.Contains(e, "://") {
			e = "tcp://" + e
		}
		out = append(out, e)
	}
	return out
}

func (listResolver) Watch(ctx context.Context, target string, _ <-chan struct{}, update func([]string, error)) error {
	eps := listTargets(target)
	if eps == nil {
		eps = []string{}
	}
	update(eps, nil)
	<-ctx.Done()
	return nil
}
