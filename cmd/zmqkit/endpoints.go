package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// endpointFlags are the flags every command that owns a socket shares: the
// repeatable --bind and --connect, and --verbose for connection events.
type endpointFlags struct {
	binds     []string
	connects  []string
	verbose   bool
	dnsServer string
}

func (e *endpointFlags) register(fs *flag.FlagSet) {
	fs.Func("bind", "listen on `endpoint` (repeatable): tcp://host:port, tcp://*:port or ipc://path;\n"+
		"port 0 or * picks a free port. Each bound endpoint is printed on stderr as\n"+
		"a line \"listening <endpoint>\"", func(s string) error {
		e.binds = append(e.binds, s)
		return nil
	})
	fs.Func("connect", "connect to `endpoint` (repeatable), in the background, retrying until it answers;\n"+
		"dns://NAME:PORT, srv://NAME or list://HOST:PORT,... connect to every member\n"+
		"of the set and follow it as it changes", func(s string) error {
		e.connects = append(e.connects, s)
		return nil
	})
	fs.BoolVar(&e.verbose, "verbose", false, "print connection events (connected, disconnected, retries, ...) on stderr")
	dnsServerFlag(fs, &e.dnsServer)
}

// dnsServerFlag registers --dns-server, which every command that dials takes.
func dnsServerFlag(fs *flag.FlagSet, p *string) {
	envString(fs, p, "dns-server", "", "ask the DNS server at `host:port` for dns:// and srv:// endpoints, instead of the system's resolver")
}

// checkDNSServer checks --dns-server and returns the socket option it
// means (none when empty).
func checkDNSServer(addr string) ([]sockets.Option, error) {
	if addr == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "" {
		err = errors.New("no host")
	}
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n <= 0 || n > 65535 {
			err = fmt.Errorf("bad port %q", port)
		}
	}
	if err != nil {
		return nil, usagef("--dns-server %q: want host:port (%v)", addr, err)
	}
	return []sockets.Option{sockets.WithDNSServer(addr)}, nil
}

// check validates what can be told before any socket exists.
func (e *endpointFlags) check() error {
	if len(e.binds)+len(e.connects) == 0 {
		return usagef("need at least one --bind or --connect endpoint")
	}
	for _, ep := range append(append([]string(nil), e.binds...), e.connects...) {
		if strings.HasPrefix(ep, "inproc://") {
			return usagef("invalid endpoint %q: inproc only reaches sockets in the same process; use tcp:// or ipc://", ep)
		}
	}
	for _, ep := range e.binds {
		if err := sockets.CheckEndpoint(ep, true); err != nil {
			return usagef("--bind: %v", err)
		}
	}
	for _, ep := range e.connects {
		if err := sockets.CheckEndpoint(ep, false); err != nil {
			return usagef("--connect: %v", err)
		}
	}
	_, err := checkDNSServer(e.dnsServer)
	return err
}

// socket is an open socket whose monitor events are being read.
type socket struct {
	*sockets.Socket
	connected chan struct{}          // closed at the first completed handshake
	watcher   chan struct{}          // closed when the event reader is done (after Close)
	lastFail  atomic.Pointer[string] // why the latest handshake failed, if one did
	lastDial  atomic.Pointer[string] // why the latest connection attempt failed, if one did
	// refused is closed when no peer can come any more: the socket binds
	// nothing and every server it dials refused its handshake and is no
	// longer dialled (sockets.ErrDialStopped); refusal says why.
	refused chan struct{}
	refusal error
}

// failure words why no peer may have come: the latest failed handshake's
// reason (a refused key, a wrong mechanism) or else the latest failed
// connection attempt's (connection refused, no such host), or "" when
// nothing failed.
func (w *socket) failure() string {
	if r := w.lastFail.Load(); r != nil {
		return " (last handshake failed: " + *r + ")"
	}
	if r := w.lastDial.Load(); r != nil {
		return " (last attempt: " + *r + ")"
	}
	return ""
}

// openSocket creates a socket of type t, reads its events (printing them on
// stderr with --verbose), binds every --bind endpoint and connects every
// --connect endpoint; then it prints "listening <endpoint>" on stderr for
// each bound endpoint, with the port the system chose for port 0 or *. On
// error the socket is closed again and nothing but the error is printed.
func openSocket(t sockets.Type, e *endpointFlags, stderr io.Writer, opts ...sockets.Option) (*socket, error) {
	dns, err := checkDNSServer(e.dnsServer)
	if err != nil {
		return nil, err
	}
	s, err := sockets.New(t, append(opts, dns...)...)
	if err != nil {
		return nil, err
	}
	w := &socket{Socket: s, connected: make(chan struct{}), watcher: make(chan struct{}), refused: make(chan struct{})}
	dialOnly := len(e.binds) == 0
	go w.watch(e.verbose, dialOnly, e.connects, stderr)
	var bound []string
	for _, ep := range e.binds {
		addr, err := s.Listen(ep)
		if err != nil {
			w.close()
			return nil, endpointError("--bind", ep, err)
		}
		bound = append(bound, addr)
	}
	for _, ep := range e.connects {
		if err := s.Dial(ep); err != nil {
			w.close()
			return nil, endpointError("--connect", ep, err)
		}
	}
	// Only now, so that a failure prints nothing but its error line.
	for _, addr := range bound {
		fmt.Fprintf(stderr, "listening %s\n", addr)
	}
	return w, nil
}

// watch reads the socket's events until Close ends them. dialOnly: the
// socket binds nothing, and dials dials endpoints.
func (w *socket) watch(verbose, dialOnly bool, dials []string, stderr io.Writer) {
	defer close(w.watcher)
	first := true
	stopped := map[string]bool{}
	// Only an endpoint dialed alone counts towards "no peer can come": a
	// dial set's member that stops leaves the set to find others.
	direct := map[string]bool{}
	for _, ep := range dials {
		direct[ep] = true
	}
	for ev := range w.Events() {
		if ev.Kind == sockets.EventConnected && first {
			first = false
			close(w.connected)
		}
		if (ev.Kind == sockets.EventHandshakeFailed || ev.Kind == sockets.EventRejected) && ev.Err != nil {
			r := strings.ReplaceAll(ev.Err.Error(), "\n", " ")
			w.lastFail.Store(&r)
		}
		if ev.Kind == sockets.EventConnectRetried && ev.Err != nil {
			r := strings.ReplaceAll(ev.Err.Error(), "\n", " ")
			w.lastDial.Store(&r)
		}
		if ev.Kind == sockets.EventHandshakeFailed && errors.Is(ev.Err, sockets.ErrDialStopped) && direct[ev.Endpoint] && !stopped[ev.Endpoint] {
			stopped[ev.Endpoint] = true
			if dialOnly && len(stopped) == len(direct) {
				w.refusal = fmt.Errorf("--connect %s: %w", ev.Endpoint, ev.Err)
				close(w.refused) // after setting refusal: readers wait on refused
			}
		}
		if !verbose || ev.Kind == sockets.EventListening {
			continue // "listening" is printed anyway, by openSocket
		}
		line := ev.Kind.String() + " " + ev.Endpoint
		if ev.Remote != "" {
			line += " remote " + ev.Remote
		}
		if ev.UserID != "" {
			line += " user " + ev.UserID
		}
		if ev.Err != nil {
			line += ": " + ev.Err.Error()
		}
		if ev.Retry > 0 {
			line += " (retry in " + ev.Retry.Round(time.Millisecond).String() + ")"
		}
		fmt.Fprintln(stderr, strings.ReplaceAll(line, "\n", " "))
	}
}

// close closes the socket (waiting up to its linger time for queued
// messages to be written) and waits for the event reader.
func (w *socket) close() {
	_ = w.Close()
	<-w.watcher
}

// endpointError words a failed Listen or Dial: a malformed endpoint is bad
// usage, anything else (an address in use, ...) a failure.
func endpointError(flagName, ep string, err error) error {
	switch {
	case errors.Is(err, sockets.ErrBadEndpoint):
		return usagef("%s: %v", flagName, cause(err))
	case errors.Is(err, sockets.ErrAddrInUse):
		return fmt.Errorf("%s %s: address already in use", flagName, ep)
	}
	return fmt.Errorf("%s %s: %v", flagName, ep, cause(err))
}

// cause is the reason inside a socket's *OpError, without the
// "zmqkit: <type> <op> <endpoint>:" the flag's own wording replaces.
func cause(err error) error {
	if oe, ok := errors.AsType[*sockets.OpError](err); ok && oe.Err != nil {
		return oe.Err
	}
	return err
}

// lingerFor is how long closing may wait to write out queued messages:
// the --timeout, or when that is 0 (no limit) the library's default.
func lingerFor(timeout time.Duration) time.Duration {
	if timeout > 0 {
		return timeout
	}
	return sockets.DefaultLinger
}

// withTimeout bounds ctx by d, unless d is 0.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// waitFor waits until ready is closed. It returns ctx's error if ctx ends
// first, the socket's refusal if every server it dials refused it, or
// errTimeout after d (0: no limit).
func (w *socket) waitFor(ctx context.Context, ready <-chan struct{}, d time.Duration) error {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.refused:
		return w.refusal
	case <-timeout:
		return errTimeout
	}
}

var errTimeout = errors.New("timed out")

// parseType maps a --type value to a socket type among allowed.
func parseType(cmd, name string, allowed []sockets.Type) (sockets.Type, error) {
	names := make([]string, len(allowed))
	for i, t := range allowed {
		names[i] = strings.ToLower(string(t))
		if names[i] == strings.ToLower(name) {
			return t, nil
		}
	}
	want := strings.Join(names, ", ")
	if name == "" {
		return "", usagef("missing --type (one of %s)", want)
	}
	return "", usagef("--type %q does not fit %s (want one of %s)", name, cmd, want)
}
