package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
)

// ErrBadEndpoint reports an endpoint that cannot be parsed or used.
var ErrBadEndpoint = errors.New("invalid endpoint")

// ErrAddrInUse reports an endpoint already bound.
var ErrAddrInUse = errors.New("address already in use")

// ErrTooManyConnections reports a connection turned away at the
// listener's connection limit.
var ErrTooManyConnections = errors.New("too many connections")

// ErrDialStopped is added to the reason of the EventHandshakeFailed after
// which a Dial stopped reconnecting: the server refused the handshake
// (ErrRefusedByServer) and Options.RetryAuthFailures is off.
var ErrDialStopped = errors.New("not reconnecting to this endpoint")

// ReconnectStop is a set of failures after which a Dial stops reconnecting
// (libzmq's ZMQ_RECONNECT_STOP).
type ReconnectStop uint8

// The failures ReconnectStop can name.
const (
	// StopOnRefused: the connection was refused (nothing listens there).
	StopOnRefused ReconnectStop = 1 << iota
	// StopOnHandshakeFailed: the ZMTP handshake failed, for any reason.
	StopOnHandshakeFailed
)

// ErrIncompatible reports a peer whose socket type cannot talk to ours.
var ErrIncompatible = errors.New("incompatible socket type")

// Host is the socket side of the engine: it takes pipes in and out of its
// routing and hears about connection life.
type Host interface {
	EngineOptions() *Options
	// Attach adds a pipe to the socket's routing; an error refuses it.
	Attach(p *Pipe) error
	// Detach removes a terminated pipe.
	Detach(p *Pipe)
	// Connected tells that a Dial pipe, attached earlier, has a new peer;
	// an error refuses that peer (the connection is dropped and retried).
	Connected(p *Pipe) error
	Emit(ev Event)
}

// Endpoint is a parsed "transport://address".
type Endpoint struct {
	Transport string // tcp, ipc, inproc, ws or wss
	Address   string
}

func (e Endpoint) String() string { return e.Transport + "://" + e.Address }

// ParseEndpoint checks an endpoint. bind allows the wildcard host "*".
func ParseEndpoint(s string, bind bool) (Endpoint, error) {
	tr, addr, ok := strings.Cut(s, "://")
	if !ok || addr == "" {
		return Endpoint{}, fmt.Errorf("%w %q: want tcp://host:port, ipc://path or inproc://name", ErrBadEndpoint, s)
	}
	ep := Endpoint{Transport: tr, Address: addr}
	switch tr {
	case "tcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return Endpoint{}, fmt.Errorf("%w %q: %v", ErrBadEndpoint, s, err)
		}
		if port == "*" && bind {
			port = "0"
		}
		if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
			return Endpoint{}, fmt.Errorf("%w %q: bad port %q", ErrBadEndpoint, s, port)
		}
		if host == "*" {
			if !bind {
				return Endpoint{}, fmt.Errorf("%w %q: cannot connect to host *", ErrBadEndpoint, s)
			}
			host = ""
		}
		if !bind && host == "" {
			return Endpoint{}, fmt.Errorf("%w %q: no host to connect to", ErrBadEndpoint, s)
		}
		ep.Address = net.JoinHostPort(host, port)
	case "ipc":
		if addr == "*" && !bind {
			return Endpoint{}, fmt.Errorf("%w %q: cannot connect to ipc://*", ErrBadEndpoint, s)
		}
	case "inproc":
	case "ws", "wss":
		return parseWS(ep, s, bind)
	default:
		return Endpoint{}, fmt.Errorf("%w %q: unknown transport %q (want tcp, ipc, inproc, ws or wss)", ErrBadEndpoint, s, tr)
	}
	return ep, nil
}

// ErrClosing reports that the socket began to close: its Group starts no
// more goroutines.
var ErrClosing = errors.New("socket closing")

// Group tracks the goroutines and live connections of one socket, so Close
// can wait for the first and cut the second. Like net/http's listener
// tracking, nothing starts once Close has begun: Go and Close take the same
// lock, so a Listen racing Close either starts before Wait or not at all.
type Group struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool // Close began: Go refuses
	dead    bool
	killed  chan struct{}
}

// Killed is closed by Kill.
func (g *Group) Killed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.killed == nil {
		g.killed = make(chan struct{})
	}
	return g.killed
}

// Go runs f in a tracked goroutine; false means the group is closing and
// f was not started.
func (g *Group) Go(f func()) bool {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		return false
	}
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// Close makes Go refuse from now on; goroutines already started go on.
func (g *Group) Close() {
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
}

// Wait waits for every tracked goroutine; call Close first, so that none
// starts meanwhile.
func (g *Group) Wait() { g.wg.Wait() }

func (g *Group) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return false
	}
	if g.conns == nil {
		g.conns = make(map[net.Conn]struct{})
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *Group) untrack(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// Kill closes every live connection and refuses new ones.
func (g *Group) Kill() {
	g.mu.Lock()
	g.dead = true
	conns := g.conns
	g.conns = nil
	if g.killed == nil {
		g.killed = make(chan struct{})
	}
	select {
	case <-g.killed:
	default:
		close(g.killed)
	}
	g.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}

// handshake runs the ZMTP handshake on an established connection.
func handshake(c net.Conn, o *Options, server bool) (Peer, error) {
	pr, err := Handshake(c, HandshakeConfig{
		Security: o.Security,
		Type:     o.Type,
		Identity: o.Identity,
		Server:   server,
		Timeout:  o.HandshakeTimeout,
		Metadata: o.Metadata,
		Remote:   c.RemoteAddr().String(),
		Admit:    o.Admit,
	})
	if err != nil {
		return pr, err
	}
	if !compatible(o.Type, pr.Type) {
		return pr, fmt.Errorf("%w: %w: peer %s cannot talk to %s", ErrHandshake, ErrIncompatible, pr.Type, o.Type)
	}
	return pr, nil
}

// compatible applies zmq4's table without its panic on unknown types.
func compatible(ours, peer zmq4.SocketType) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return ours.IsCompatible(peer) && peer.IsCompatible(ours)
}

// emitEnd reports the end of a connection, for the reason ev.Err: an
// event that names the reason when there is one (heartbeat timeout,
// message too large, protocol error), and then, always, EventDisconnected
// with the same reason, as libzmq reports every connection that ends with
// ZMQ_EVENT_DISCONNECTED: code that watches for disconnects alone hears
// of a silent peer too.
func emitEnd(h Host, ev Event) {
	if k := eventFor(ev.Err); k != EventDisconnected {
		ev.Kind = k
		h.Emit(ev)
	}
	ev.Kind = EventDisconnected
	h.Emit(ev)
}

// EndReported reports whether the EventDisconnected of a connection that
// ended for err follows an event that named the reason (emitEnd): a
// counter of ends counts that one, and not the EventDisconnected again.
func EndReported(err error) bool { return err != nil && eventFor(err) != EventDisconnected }

// eventFor maps the reason a connection ended to its monitor event.
func eventFor(err error) EventKind {
	switch {
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrBudget):
		return EventMessageTooLarge
	case errors.Is(err, ErrStalled):
		return EventStalled
	case errors.Is(err, ErrHeartbeatTimeout):
		return EventHeartbeatTimeout
	case errors.Is(err, ErrBadFlags), errors.Is(err, ErrTooManyFrames), errors.Is(err, ErrCommandTooLong),
		errors.Is(err, ErrWSProtocol):
		return EventProtocolError
	}
	return EventDisconnected
}

// Listener accepts connections on one endpoint.
type Listener struct {
	host Host
	g    *Group
	ep   Endpoint
	addr string
	ln   net.Listener // nil for inproc
	// tmpDir is the directory made for ipc://*, removed at Close.
	tmpDir string
	raws   map[*RawConn]struct{} // a STREAM socket's connections, under mu

	mu     sync.Mutex
	pipes  map[*Pipe]struct{}
	closed bool
	done   chan struct{}

	conns atomic.Int64 // connections served now, handshaking or not

	wsListen // ws and wss (ws.go)
}

// Listen binds endpoint and starts accepting in the background.
func Listen(host Host, g *Group, endpoint string) (*Listener, error) {
	ep, err := ParseEndpoint(endpoint, true)
	if err != nil {
		return nil, err
	}
	if err := rawTransportOK(host.EngineOptions(), ep, endpoint); err != nil {
		return nil, err
	}
	l := &Listener{host: host, g: g, ep: ep, pipes: make(map[*Pipe]struct{}), done: make(chan struct{})}
	switch ep.Transport {
	case "inproc":
		// addr is set before the listener is published: dialers read it.
		l.addr = ep.String()
		if err := inprocBind(ep.Address, l); err != nil {
			return nil, err
		}
		close(l.done)
	case "ipc":
		if ep.Address == "*" {
			ln, dir, err := listenUniqueIPC()
			if err != nil {
				return nil, listenErr(err)
			}
			l.ln, l.tmpDir = ln, dir
			l.addr = "ipc://" + ln.Addr().String()
			break
		}
		if fi, err := os.Lstat(ep.Address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if c, err := net.Dial("unix", ep.Address); err == nil {
				_ = c.Close()
				return nil, addrInUse{sys: syscall.EADDRINUSE}
			}
			_ = os.Remove(ep.Address) // a stale socket file, as libzmq does
		}
		ln, err := net.Listen("unix", ep.Address)
		if err != nil {
			return nil, listenErr(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(true)
		l.ln, l.addr = ln, ep.String()
	case "ws", "wss":
		if err := l.listenWS(endpoint); err != nil {
			return nil, err
		}
	default:
		addr, err := bindAddress(ep.Address)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrBadEndpoint, endpoint, err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, listenErr(err)
		}
		l.ln, l.addr = ln, "tcp://"+ln.Addr().String()
	}
	run := l.accept
	if l.srv != nil {
		run = l.serveHTTP
	}
	if l.ln != nil && !g.Go(run) {
		_ = l.ln.Close()
		l.removeTmpDir()
		return nil, ErrClosing
	}
	host.Emit(Event{Kind: EventListening, Endpoint: l.addr})
	return l, nil
}

// listenErr gives the socket what net.Listen refused. The endpoint is not
// repeated: the socket's error names it, and so does net's.
func listenErr(err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return addrInUse{sys: err}
	}
	return err
}

// addrInUse is ErrAddrInUse with the system's error behind it: errors.Is
// matches both it and syscall.EADDRINUSE.
type addrInUse struct{ sys error }

func (e addrInUse) Error() string   { return ErrAddrInUse.Error() }
func (e addrInUse) Unwrap() []error { return []error{ErrAddrInUse, e.sys} }

// Addr is the bound endpoint, with the port the system chose for tcp port 0.
func (l *Listener) Addr() string { return l.addr }

func (l *Listener) accept() {
	defer close(l.done)
	delay := 5 * time.Millisecond
	for {
		c, err := l.ln.Accept()
		if err != nil {
			l.mu.Lock()
			closed := l.closed
			l.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or similar: back off rather than spin.
			time.Sleep(delay)
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		if max := l.host.EngineOptions().MaxConns; max > 0 && l.conns.Load() >= int64(max) {
			// Counted before the close, as in the ws listener.
			l.host.Emit(Event{Kind: EventRejected, Endpoint: l.addr, Remote: c.RemoteAddr().String(),
				Err: fmt.Errorf("%w: %d (WithMaxConnections)", ErrTooManyConnections, max)})
			_ = c.Close()
			continue
		}
		if isRaw(l.host.EngineOptions()) {
			// Tracked as a RawConn: the group's Kill then closes it as
			// the socket's code sees it closed.
			c = newRawConn(c, l.addr, false)
		}
		if !l.g.track(c) {
			_ = c.Close()
			continue
		}
		l.conns.Add(1)
		if !l.g.Go(func() { l.serve(c) }) {
			l.conns.Add(-1)
			l.g.untrack(c)
			_ = c.Close()
		}
	}
}

// serve runs one accepted connection: handshake, attach, move messages.
func (l *Listener) serve(c net.Conn) {
	defer l.conns.Add(-1)
	defer l.g.untrack(c)
	if rc, ok := c.(*RawConn); ok {
		l.serveRaw(rc)
		return
	}
	remote := c.RemoteAddr().String()
	l.host.Emit(Event{Kind: EventAccepted, Endpoint: l.addr, Remote: remote})
	o := l.host.EngineOptions()
	pr, err := handshake(c, o, true)
	if err != nil {
		_ = c.Close()
		l.host.Emit(Event{Kind: EventHandshakeFailed, Endpoint: l.addr, Remote: remote, Err: err})
		return
	}
	pr.Remote = remote
	p := newPipe(l.addr, false, o)
	p.SetPeer(pr)
	if !l.add(p) {
		_ = c.Close()
		return
	}
	defer l.remove(p)
	p.serveBy(func() { _ = c.Close() })
	if err := l.host.Attach(p); err != nil {
		p.served()
		_ = c.Close()
		l.host.Emit(Event{Kind: EventRejected, Endpoint: l.addr, Remote: remote, Err: err})
		return
	}
	l.host.Emit(Event{Kind: EventConnected, Endpoint: l.addr, Remote: remote, UserID: pr.UserID})
	err = Serve(c, p, o)
	if p.served() {
		err = ErrDropped
	}
	p.Terminate()
	l.host.Detach(p)
	emitEnd(l.host, Event{Endpoint: l.addr, Remote: remote, UserID: pr.UserID, Err: err})
}

func (l *Listener) add(p *Pipe) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.pipes[p] = struct{}{}
	return true
}

func (l *Listener) remove(p *Pipe) {
	l.mu.Lock()
	delete(l.pipes, p)
	l.mu.Unlock()
}

// Close stops accepting and ends the pipes accepted here (what they hold
// for their peers is still written out). It is idempotent.
func (l *Listener) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	pipes := make([]*Pipe, 0, len(l.pipes))
	for p := range l.pipes {
		pipes = append(pipes, p)
	}
	l.mu.Unlock()
	if l.srv != nil {
		_ = l.srv.Close()
	}
	if l.ln != nil {
		_ = l.ln.Close()
		l.removeTmpDir()
	} else if l.ep.Transport == "inproc" {
		inprocUnbind(l.ep.Address, l)
	}
	l.closeRaws()
	for _, p := range pipes {
		p.Terminate()
		if p.Shared {
			l.host.Detach(p)
		}
	}
	<-l.done
	l.host.Emit(Event{Kind: EventClosed, Endpoint: l.addr})
}

// Dialer keeps one outgoing connection up, reconnecting as needed.
type Dialer struct {
	host     Host
	g        *Group
	ep       Endpoint
	raw      string
	pipe     *Pipe // persistent pipe; nil with Immediate
	stop     chan struct{}
	once     sync.Once
	kill     chan struct{} // closed by Abandon
	killOnce sync.Once
	done     chan struct{} // closed when the dialer has given up

	curMu sync.Mutex
	cur   *Pipe // with Immediate, the pipe of the connection up now
}

// Dial starts connecting to endpoint in the background. Unless the socket
// is Immediate, the pipe exists at once, so messages queue until the
// connection is up.
func Dial(host Host, g *Group, endpoint string) (*Dialer, error) {
	ep, err := ParseEndpoint(endpoint, false)
	if err != nil {
		return nil, err
	}
	d := &Dialer{host: host, g: g, ep: ep, raw: endpoint, stop: make(chan struct{}), kill: make(chan struct{}), done: make(chan struct{})}
	o := host.EngineOptions()
	if err := rawTransportOK(o, ep, endpoint); err != nil {
		return nil, err
	}
	if !o.Immediate && !isRaw(o) { // raw connections have no pipe
		d.pipe = newPipe(endpoint, true, o)
		if err := host.Attach(d.pipe); err != nil {
			return nil, err
		}
	}
	if !g.Go(d.run) {
		close(d.done)
		if d.pipe != nil {
			d.pipe.Terminate()
			host.Detach(d.pipe)
		}
		return nil, ErrClosing
	}
	return d, nil
}

// Close stops reconnecting and ends the dialer's pipe; a live connection
// first writes out what is queued (see Options.Linger in package sockets).
func (d *Dialer) Close() {
	d.once.Do(func() {
		d.curMu.Lock()
		close(d.stop)
		cur := d.cur
		d.curMu.Unlock()
		if d.pipe != nil {
			d.pipe.Terminate()
		}
		if cur != nil {
			cur.Terminate()
		}
	})
}

// Connected reports whether a connection of the dialer is up now.
func (d *Dialer) Connected() bool {
	if d.pipe != nil {
		return d.pipe.Live() || d.pipe.Serving()
	}
	d.curMu.Lock()
	defer d.curMu.Unlock()
	return d.cur != nil
}

// Abandon is Close that stops delivering too: the dialer gives up at once,
// as at the end of its socket's linger, and its connection is cut. What its
// pipe still holds stays there for the socket to take (Pipe).
func (d *Dialer) Abandon() {
	d.Close()
	d.killOnce.Do(func() { close(d.kill) })
	if d.pipe != nil {
		d.pipe.Drop()
	}
	d.curMu.Lock()
	cur := d.cur
	d.curMu.Unlock()
	if cur != nil {
		cur.Drop()
	}
}

// Done is closed once the dialer has given up: after Close, once its pipe
// is delivered or the linger ended; after Abandon, at once; or when it
// stopped on its own (Options.ReconnectStop).
func (d *Dialer) Done() <-chan struct{} { return d.done }

// Pipe is the dialer's persistent pipe (nil with Immediate).
func (d *Dialer) Pipe() *Pipe { return d.pipe }

func (d *Dialer) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// pending reports whether the dialer's pipe still holds messages to write.
func (d *Dialer) pending() bool { return d.pipe != nil && d.pipe.Out.Len() > 0 }

// finished reports whether the dialer should give up: its socket's linger
// ran out, or it was closed with nothing left to deliver. A closed dialer
// with queued messages keeps (re)connecting until the linger ends, as
// libzmq does, so that Close delivers to a peer that binds late.
func (d *Dialer) finished() bool {
	select {
	case <-d.g.Killed():
		return true
	case <-d.kill:
		return true
	default:
	}
	return d.stopped() && !d.pending()
}

// giveUp is closed when waiting should end: at the linger's end, or at Close
// when nothing is left to deliver.
func (d *Dialer) giveUp() (<-chan struct{}, func()) {
	ch := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		stop := d.stop
		for {
			select {
			case <-quit:
				return
			case <-d.g.Killed():
				close(ch)
				return
			case <-d.kill:
				close(ch)
				return
			case <-stop:
				if !d.pending() {
					close(ch)
					return
				}
				stop = nil // drain until killed
			}
		}
	}()
	return ch, func() { close(quit) }
}

// jitter is about b (±25%): how long a Dial waits before its next try.
func jitter(b time.Duration) time.Duration {
	if b <= 0 {
		b = time.Millisecond
	}
	return b*3/4 + time.Duration(rand.Int64N(int64(b)/2+1))
}

// wait sleeps for w; false means give up.
func (d *Dialer) wait(w time.Duration) bool {
	t := time.NewTimer(w)
	defer t.Stop()
	quit, release := d.giveUp()
	defer release()
	select {
	case <-t.C:
		return !d.finished()
	case <-quit:
		return false
	}
}

func (d *Dialer) run() {
	o := d.host.EngineOptions()
	backoff := o.ReconnectIvl
	next := func() time.Duration {
		b := backoff
		if o.ReconnectMax > o.ReconnectIvl {
			backoff = min(2*backoff, o.ReconnectMax)
		}
		return b
	}
	defer close(d.done)
	defer func() {
		if d.pipe != nil {
			d.pipe.Terminate()
			d.host.Detach(d.pipe)
		}
	}()
	for !d.finished() {
		var err error
		if d.ep.Transport == "inproc" {
			err = d.runInproc()
		} else {
			err = d.runStream(&backoff, o)
		}
		if d.finished() || errors.Is(err, errHandedOver) || errors.Is(err, ErrDialStopped) {
			return
		}
		w := jitter(next())
		if err != nil {
			if o.ReconnectStop&StopOnRefused != 0 && isRefused(err) {
				d.host.Emit(Event{Kind: EventDialStopped, Endpoint: d.raw, Err: fmt.Errorf("%w; %w", err, ErrDialStopped)})
				return
			}
			d.host.Emit(Event{Kind: EventConnectRetried, Endpoint: d.raw, Err: err, Retry: w})
		}
		if !d.wait(w) {
			return
		}
	}
}

// runStream makes one tcp/ipc connection and serves it until it ends.
func (d *Dialer) runStream(backoff *time.Duration, o *Options) error {
	ctx, cancel := context.WithCancel(context.Background())
	quit, release := d.giveUp()
	defer release()
	go func() {
		select {
		case <-quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	network := "tcp"
	if d.ep.Transport == "ipc" {
		network = "unix"
	}
	nd := net.Dialer{Timeout: o.ConnectTimeout}
	var c net.Conn
	var err error
	if d.ep.Transport == "ws" || d.ep.Transport == "wss" {
		c, err = dialWS(ctx, d.ep, o)
	} else {
		c, err = nd.DialContext(ctx, network, d.ep.Address)
	}
	cancel()
	if err != nil {
		return err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if isRaw(o) {
		return d.runRaw(c, quit, backoff, o)
	}
	if !d.g.track(c) {
		_ = c.Close()
		return nil
	}
	defer d.g.untrack(c)
	remote := c.RemoteAddr().String()
	pr, err := handshake(c, o, false)
	if err != nil {
		_ = c.Close()
		// Credentials or a key the server refused will be refused again:
		// stop, rather than knock at its door every few seconds for ever.
		// So will any failure, when the socket asked to stop on one.
		stop := errors.Is(err, ErrRefusedByServer) && !o.RetryAuthFailures ||
			o.ReconnectStop&StopOnHandshakeFailed != 0
		if stop {
			err = fmt.Errorf("%w; %w", err, ErrDialStopped)
		}
		d.host.Emit(Event{Kind: EventHandshakeFailed, Endpoint: d.raw, Remote: remote, Err: err})
		if stop {
			d.host.Emit(Event{Kind: EventDialStopped, Endpoint: d.raw, Remote: remote, Err: err})
			return ErrDialStopped
		}
		return nil
	}
	pr.Remote = remote
	p := d.pipe
	if p == nil {
		p = newPipe(d.raw, true, o)
		p.SetPeer(pr)
		p.serveBy(func() { _ = c.Close() })
		if err := d.host.Attach(p); err != nil {
			p.served()
			_ = c.Close()
			d.host.Emit(Event{Kind: EventRejected, Endpoint: d.raw, Remote: remote, Err: err})
			return nil
		}
		// Close ends this connection's pipe as it ends a persistent one.
		d.curMu.Lock()
		d.cur = p
		stopped := d.stopped()
		d.curMu.Unlock()
		if stopped {
			p.Terminate()
		}
		defer func() {
			d.curMu.Lock()
			d.cur = nil
			d.curMu.Unlock()
		}()
	} else {
		p.SetPeer(pr)
		p.serveBy(func() { _ = c.Close() })
		if err := d.host.Connected(p); err != nil {
			p.served()
			_ = c.Close()
			d.host.Emit(Event{Kind: EventRejected, Endpoint: d.raw, Remote: remote, Err: err})
			return nil
		}
	}
	*backoff = o.ReconnectIvl
	d.host.Emit(Event{Kind: EventConnected, Endpoint: d.raw, Remote: remote, UserID: pr.UserID})
	err = Serve(c, p, o)
	if p.served() {
		err = ErrDropped
	}
	if d.pipe == nil {
		p.Terminate()
		d.host.Detach(p)
	}
	emitEnd(d.host, Event{Endpoint: d.raw, Remote: remote, UserID: pr.UserID, Err: err})
	return nil
}

// inproc: a name registry of listeners; a connection is two views of one
// pair of queues, with no goroutine and no copy in between.
var inproc struct {
	mu    sync.Mutex
	binds map[string]*Listener
}

func inprocBind(name string, l *Listener) error {
	inproc.mu.Lock()
	defer inproc.mu.Unlock()
	if inproc.binds == nil {
		inproc.binds = make(map[string]*Listener)
	}
	if _, ok := inproc.binds[name]; ok {
		return ErrAddrInUse
	}
	inproc.binds[name] = l
	return nil
}

func inprocUnbind(name string, l *Listener) {
	inproc.mu.Lock()
	if inproc.binds[name] == l {
		delete(inproc.binds, name)
	}
	inproc.mu.Unlock()
}

var errNotBound = errors.New("inproc endpoint not bound")

func (d *Dialer) runInproc() error {
	inproc.mu.Lock()
	l := inproc.binds[d.ep.Address]
	inproc.mu.Unlock()
	if l == nil {
		return errNotBound
	}
	o, lo := d.host.EngineOptions(), l.host.EngineOptions()
	if !compatible(o.Type, lo.Type) {
		return fmt.Errorf("%w: %s cannot talk to %s", ErrIncompatible, o.Type, lo.Type)
	}
	p := d.pipe
	if p == nil {
		p = newPipe(d.raw, true, o)
	}
	// As in libzmq, an inproc queue holds both sides' worth: the sender's
	// send HWM plus the receiver's receive HWM (0 on either side: no limit).
	p.Out.SetHWM(sumHWM(o.SendHWM, lo.RecvHWM))
	p.In.SetHWM(sumHWM(lo.SendHWM, o.RecvHWM))
	p.Out.SetMaxBytes(int64(sumHWM(int(o.SendBytes), int(lo.RecvBytes))))
	p.In.SetMaxBytes(int64(sumHWM(int(lo.SendBytes), int(o.RecvBytes))))
	// The two queues are both sides' at once: the listening side's
	// conflation applies to them too (the dialing side's is set already).
	if lo.ConflateIn {
		p.Out.SetConflate(lo.Conflated)
	}
	if lo.ConflateOut {
		p.In.SetConflate(lo.Conflated)
	}
	view := &Pipe{In: p.Out, Out: p.In, Endpoint: l.addr, Shared: true, done: make(chan struct{})}
	view.SetPeer(Peer{Type: o.Type, Identity: o.Identity})
	p.SetPeer(Peer{Type: lo.Type, Identity: lo.Identity})
	if !l.add(view) {
		return errNotBound
	}
	// Either side drops the connection by ending the listener's view.
	view.serveBy(view.Terminate)
	p.serveBy(view.Terminate)
	// The dialing side goes first: its Connected resets per-peer state (a
	// PUB forgets the old peer's subscriptions) that the listening side's
	// Attach then fills in (an XSUB announces its subscriptions).
	refused := func() {
		l.remove(view)
		view.served()
		p.served()
	}
	if d.pipe == nil {
		if err := d.host.Attach(p); err != nil {
			refused()
			return err
		}
	} else if err := d.host.Connected(p); err != nil {
		refused()
		d.host.Emit(Event{Kind: EventRejected, Endpoint: d.raw, Err: err})
		return nil
	}
	if err := l.host.Attach(view); err != nil {
		refused()
		// The listening socket refused the peer: it reports it, as for tcp.
		l.host.Emit(Event{Kind: EventRejected, Endpoint: l.addr, Err: err})
		if d.pipe == nil {
			p.Terminate()
			d.host.Detach(p)
		}
		return nil
	}
	view.live.Store(true)
	p.live.Store(true)
	l.host.Emit(Event{Kind: EventConnected, Endpoint: l.addr})
	d.host.Emit(Event{Kind: EventConnected, Endpoint: d.raw})
	handedOver := false
	select {
	case <-view.Done(): // the listener went away
	case <-d.stop:
		handedOver = true
	case <-p.Done():
		handedOver = true
	}
	view.Terminate()
	view.orphan()
	p.orphan()
	l.remove(view)
	l.host.Detach(view)
	if view.served() {
		// Dropped by the listening socket: it reports it, as for tcp.
		l.host.Emit(Event{Kind: EventDisconnected, Endpoint: l.addr, Err: ErrDropped})
	}
	var derr error
	if p.served() {
		derr = ErrDropped
	}
	if d.pipe == nil {
		p.Terminate()
		d.host.Detach(p)
	}
	d.host.Emit(Event{Kind: EventDisconnected, Endpoint: d.raw, Err: derr})
	if handedOver {
		// What is queued sits in the queue the listener reads: delivered, as
		// far as lingering goes.
		return errHandedOver
	}
	return nil
}

var errHandedOver = errors.New("inproc queue handed over")

// isRefused reports a connection refused: nothing listens at the address.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, errRefusedWindows)
}

func sumHWM(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	return a + b
}
