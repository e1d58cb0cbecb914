package sockets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// dnsResolver is dns://NAME:PORT (every A and AAAA address of NAME, at
// PORT) and, with srv set, srv://NAME (every target of NAME's SRV records,
// at the record's port). It looks the name up every interval, and when the
// socket asks (a member failed) at most once per minGap.
type dnsResolver struct {
	r        *net.Resolver
	server   string // WithDNSServer's address, for errors
	interval time.Duration
	timeout  time.Duration
	srv      bool
}

// refreshGap is the least time between two lookups a refresh asks for.
const refreshGap = time.Second

func (d *dnsResolver) check(target string) error {
	if d.srv {
		if target == "" || strings.ContainsAny(target, ":/") {
			return fmt.Errorf("%w %q: want srv://NAME (the SRV record's name, as _port._tcp.service.namespace.svc)", ErrBadEndpoint, "srv://"+target)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil || host == "" || strings.Contains(host, "/") {
		return fmt.Errorf("%w %q: want dns://NAME:PORT", ErrBadEndpoint, "dns://"+target)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("%w %q: bad port %q", ErrBadEndpoint, "dns://"+target, port)
	}
	return nil
}

func (d *dnsResolver) resolver() *net.Resolver {
	if d.r != nil {
		return d.r
	}
	return net.DefaultResolver
}

// Watch is Resolver.Watch.
func (d *dnsResolver) Watch(ctx context.Context, target string, refresh <-chan struct{}, update func([]string, error)) error {
	if err := d.check(target); err != nil {
		return err
	}
	gap := min(refreshGap, d.interval)
	// last holds each SRV target's addresses from the lookup before, for a
	// target whose own lookup fails for a while (it is not dropped for it).
	last := map[string][]string{}
	t := time.NewTimer(0)
	defer t.Stop()
	var prev time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-refresh:
			if wait := time.Until(prev.Add(gap)); wait > 0 {
				// Soon, not now: a member that fails in a loop must not
				// turn into a DNS query per failure.
				t.Reset(wait)
				continue
			}
			t.Stop()
		}
		var eps []string
		var err error
		if d.srv {
			eps, err = d.lookupSRV(ctx, target, last)
		} else {
			eps, err = d.lookupA(ctx, target)
		}
		if ctx.Err() != nil {
			return nil
		}
		prev = time.Now()
		update(eps, err)
		// Drain a refresh that came meanwhile: this lookup answered it.
		select {
		case <-refresh:
		default:
		}
		t.Reset(d.interval)
	}
}

func (d *dnsResolver) lookupA(ctx context.Context, target string) ([]string, error) {
	host, port, _ := net.SplitHostPort(target)
	ips, err := d.lookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	eps := make([]string, 0, len(ips))
	for _, ip := range ips {
		eps = append(eps, "tcp://"+net.JoinHostPort(ip, port))
	}
	return eps, nil
}

// lookupHost returns host's addresses; an IP address is its own.
func (d *dnsResolver) lookupHost(ctx context.Context, host string) ([]string, error) {
	if isIPLiteral(host) {
		return []string{host}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	addrs, err := d.resolver().LookupIPAddr(ctx, host)
	if err != nil {
		return nil, d.named(err)
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	ips := make([]string, len(addrs))
	for i, a := range addrs {
		ips[i] = a.String()
	}
	return ips, nil
}

// named puts the server WithDNSServer chose in err: net names the one of
// the system's configuration, which a resolver with its own Dial never asked.
func (d *dnsResolver) named(err error) error {
	var de *net.DNSError
	if d.server != "" && errors.As(err, &de) {
		de.Server = d.server
	}
	return err
}

func isIPLiteral(h string) bool {
	h, _, _ = strings.Cut(h, "%")
	return net.ParseIP(h) != nil
}

// ErrSRVTarget is the reason, in an EventResolveError, that some targets of
// an srv:// name's records did not resolve to an address; the set holds the
// others (and, for a target whose lookup failed but did resolve before, its
// addresses of then).
var ErrSRVTarget = errors.New("SRV target did not resolve")

func (d *dnsResolver) lookupSRV(ctx context.Context, name string, last map[string][]string) ([]string, error) {
	lctx, cancel := context.WithTimeout(ctx, d.timeout)
	_, srvs, err := d.resolver().LookupSRV(lctx, "", "", name)
	cancel()
	err = d.named(err)
	if len(srvs) == 0 {
		if err == nil {
			err = &net.DNSError{Err: "no SRV records", Name: name, IsNotFound: true}
		}
		return nil, err
	}
	// err with records: some were not valid names (net says which); the
	// rest are good.
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	seen := map[string][]string{}
	var eps []string
	for _, s := range srvs {
		host := strings.TrimSuffix(s.Target, ".")
		if host == "" {
			continue // "." : the service is decidedly not here (RFC 2782)
		}
		ips, ok := seen[host]
		if !ok {
			ips, err = d.lookupHost(ctx, host)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %w", ErrSRVTarget, host, err))
				var de *net.DNSError
				if errors.As(err, &de) && de.IsNotFound {
					ips = nil // gone
				} else {
					ips = last[host] // a timeout, say: keep what it was
				}
			}
			seen[host] = ips
		}
		for _, ip := range ips {
			eps = append(eps, "tcp://"+net.JoinHostPort(ip, strconv.Itoa(int(s.Port))))
		}
	}
	clear(last)
	for h, ips := range seen {
		if ips != nil {
			last[h] = ips
		}
	}
	err = errors.Join(errs...)
	if eps == nil && err != nil {
		return nil, err // nothing usable: a failure, the set stays
	}
	if eps == nil {
		eps = []string{}
	}
	return eps, err
}
