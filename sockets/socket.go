package sockets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Type is a ZeroMQ socket type. Its value is the name the ZMTP handshake
// announces in Socket-Type ("PUSH", "PULL", …).
type Type string

// The socket types.
const (
	Pair   Type = "PAIR"
	Pub    Type = "PUB"
	Sub    Type = "SUB"
	XPub   Type = "XPUB"
	XSub   Type = "XSUB"
	Req    Type = "REQ"
	Rep    Type = "REP"
	Dealer Type = "DEALER"
	Router Type = "ROUTER"
	Push   Type = "PUSH"
	Pull   Type = "PULL"
)

// String returns the type's name, as the handshake announces it.
func (t Type) String() string { return string(t) }

// behavior is what a socket type adds to the common core: where a message
// goes on Send, where Recv takes it from, and how pipes come and go. Every
// method but send and recv runs with core.mu held.
type behavior interface {
	attach(p *engine.Pipe) error
	detach(p *engine.Pipe)
	// connected may refuse the new peer of a Dial pipe (the connection is
	// then dropped and retried later).
	connected(p *engine.Pipe) error
	send(ctx context.Context, m engine.Msg) error
	// recv, when from is not nil, also sets *from to the peer the message
	// came from (nil when no peer sent it, as an XPUB's cancel for a
	// departed subscriber). Plain Recv passes nil and pays nothing.
	recv(ctx context.Context, from **engine.Peer) (engine.Msg, error)
}

// Socket is a ZeroMQ-style socket. It is safe for concurrent use.
//
// Messages are multipart: Send takes the frames, Recv returns them. Send
// hands the frames' memory to the socket: do not modify them afterwards.
// Recv hands them to the caller: they are its own, to modify or keep, and
// no other receiver ever sees them (a message that goes to several inproc
// peers is copied for all but one).
type Socket struct {
	typ  Type
	name string
	cfg  config
	log  *slog.Logger
	b    behavior
	g    engine.Group

	mu        sync.Mutex
	closed    bool
	listeners map[string]*engine.Listener
	dialers   map[string]*engine.Dialer
	pipes     map[*engine.Pipe]struct{}
	sets      map[string]*dialSet // Dials of a resolver's endpoint (dialset.go)

	// memMu guards memberOf, the dial sets' members by endpoint: the
	// monitor path reads it, so it has a lock of its own.
	memMu    sync.Mutex
	memberOf map[string]*dialSet

	closeCh chan struct{}
	sendSig signal // some pipe may take a message
	recvSig signal // some pipe may hold a message

	evMu     sync.Mutex
	evClosed bool
	events   chan Event

	st counters
}

// New creates a socket of type t.
func New(t Type, opts ...Option) (*Socket, error) {
	s := &Socket{
		typ:       t,
		name:      strings.ToLower(string(t)),
		cfg:       defaultConfig(t),
		listeners: make(map[string]*engine.Listener),
		dialers:   make(map[string]*engine.Dialer),
		pipes:     make(map[*engine.Pipe]struct{}),
		sets:      make(map[string]*dialSet),
		memberOf:  make(map[string]*dialSet),
		closeCh:   make(chan struct{}),
	}
	for _, o := range opts {
		if err := o(&s.cfg); err != nil {
			return nil, err
		}
	}
	s.cfg.resolve()
	s.cfg.Conflated = &s.st.conflated
	s.log = s.cfg.logger
	if s.log == nil {
		s.log = slog.New(discard{})
	}
	s.events = make(chan Event, s.cfg.eventBuffer)
	switch t {
	case Push:
		s.b = &pushSocket{lb: lb{s: s}}
	case Pull:
		s.b = &pullSocket{fq: fq{s: s}}
	case Pair:
		s.b = &pairSocket{s: s, lb: lb{s: s}, fq: fq{s: s}}
	case Dealer:
		s.b = &dealerSocket{lb: lb{s: s}, fq: fq{s: s}}
	case Req:
		s.b = &reqSocket{lb: lb{s: s}, s: s}
	case Rep:
		s.b = &repSocket{s: s, fq: fq{s: s}}
	case Router:
		s.b = newRouter(s)
	case Pub, XPub:
		s.b = newPub(s, t == XPub)
	case Sub, XSub:
		s.b = newSub(s, t == XSub)
	case Stream:
		if err := streamOptionsOK(&s.cfg); err != nil {
			return nil, err
		}
		s.b = newStream(s)
	default:
		return nil, fmt.Errorf("%w: unknown socket type %q", ErrBadOption, t)
	}
	return s, nil
}

// Constructors for each type; see New.
func NewPush(opts ...Option) (*Socket, error)   { return New(Push, opts...) }
func NewPull(opts ...Option) (*Socket, error)   { return New(Pull, opts...) }
func NewPub(opts ...Option) (*Socket, error)    { return New(Pub, opts...) }
func NewSub(opts ...Option) (*Socket, error)    { return New(Sub, opts...) }
func NewXPub(opts ...Option) (*Socket, error)   { return New(XPub, opts...) }
func NewXSub(opts ...Option) (*Socket, error)   { return New(XSub, opts...) }
func NewReq(opts ...Option) (*Socket, error)    { return New(Req, opts...) }
func NewRep(opts ...Option) (*Socket, error)    { return New(Rep, opts...) }
func NewDealer(opts ...Option) (*Socket, error) { return New(Dealer, opts...) }
func NewRouter(opts ...Option) (*Socket, error) { return New(Router, opts...) }
func NewPair(opts ...Option) (*Socket, error)   { return New(Pair, opts...) }

// Type is the socket's type.
func (s *Socket) Type() Type { return s.typ }

// Listen binds an endpoint (tcp://host:port, tcp://*:port, ipc://path,
// inproc://name, ws://host:port/path, wss://host:port/path) and returns it
// as bound: with tcp or ws port 0 or *, the port the system chose. A
// socket may listen on several endpoints.
func (s *Socket) Listen(endpoint string) (string, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", s.errorf("listen", endpoint, ErrClosed)
	}
	s.mu.Unlock()
	l, err := engine.Listen((*host)(s), &s.g, endpoint)
	if errors.Is(err, engine.ErrClosing) {
		return "", s.errorf("listen", endpoint, ErrClosed)
	}
	if err != nil {
		return "", s.errorf("listen", endpoint, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		go l.Close()
		return "", s.errorf("listen", endpoint, ErrClosed)
	}
	s.listeners[l.Addr()] = l
	if l.Addr() != endpoint {
		s.listeners[endpoint] = l
	}
	return l.Addr(), nil
}

// Unbind stops listening on an endpoint (as given to or returned by Listen)
// and ends the connections accepted there.
func (s *Socket) Unbind(endpoint string) error {
	s.mu.Lock()
	l, ok := s.listeners[endpoint]
	if ok {
		for k, v := range s.listeners {
			if v == l {
				delete(s.listeners, k)
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		return s.errorf("unbind", endpoint, fmt.Errorf("%w: not listening there", ErrBadEndpoint))
	}
	l.Close()
	return nil
}

// Dial connects to an endpoint in the background and keeps reconnecting
// until Disconnect or Close. It returns at once; unless WithImmediate,
// messages sent meanwhile wait in the pipe (up to the send HWM).
//
// The endpoint may also name a set of endpoints that changes over time: a
// dial set, which dials every member and follows the set as it changes.
// Built in are dns://NAME:PORT (every A and AAAA address of NAME, looked up
// again every WithResolveInterval and when a member fails), srv://NAME
// (the targets of NAME's SRV records, each at its record's port; priority
// and weight are not used: every target is a member) and
// list://HOST:PORT,HOST:PORT (a fixed list; an element may also be a whole
// endpoint, as ipc:///path); WithResolver adds schemes. Each member has
// its own pipe, as if dialed alone, so the socket type does with the set
// what it does with any peers: PUSH, DEALER and REQ balance over the
// members, PULL and DEALER fair-queue from them, SUB subscribes at each
// (a new member too), PUB sends to each, and a ROUTER routes to each by
// its endpoint as the set lists it ("tcp://10.1.2.3:5555", the Remote of
// EventMemberAdded), from the start and through reconnects as with
// DialRouted. A member the resolver no longer lists is let go: it is sent
// nothing more, what its pipe holds is still written to it within the
// linger period (WithLinger), and a PUSH or DEALER hands what it could not
// write (all of it, when the member was not connected) to the other
// members. A failed lookup changes nothing: the set keeps its members.
// The set is capped (WithMaxMembers), each endpoint dialed once, and an
// endpoint the socket dials already (by Dial or another set) is not dialed
// again. Members come and go with EventMemberAdded and EventMemberRemoved,
// and problems with EventResolveError. Disconnect of the set's endpoint
// stops the whole set.
func (s *Socket) Dial(endpoint string) error {
	if r, target := s.cfg.resolverFor(endpoint); r != nil {
		return s.dialSet(endpoint, target, r)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.errorf("dial", endpoint, ErrClosed)
	}
	s.memMu.Lock()
	member := s.memberOf[endpoint] != nil
	s.memMu.Unlock()
	if _, dup := s.dialers[endpoint]; dup || member {
		s.mu.Unlock()
		return s.errorf("dial", endpoint, fmt.Errorf("%w: already connected", ErrBadEndpoint))
	}
	s.mu.Unlock()
	d, err := engine.Dial((*host)(s), &s.g, endpoint)
	if errors.Is(err, engine.ErrClosing) {
		return s.errorf("dial", endpoint, ErrClosed)
	}
	if err != nil {
		return s.errorf("dial", endpoint, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		d.Close()
		return s.errorf("dial", endpoint, ErrClosed)
	}
	s.dialers[endpoint] = d
	return nil
}

// Disconnect stops the connection made by Dial(endpoint), or every
// connection of the dial set Dial(endpoint) made.
func (s *Socket) Disconnect(endpoint string) error {
	s.mu.Lock()
	if ds := s.sets[endpoint]; ds != nil {
		delete(s.sets, endpoint)
		s.mu.Unlock()
		ds.stop(true)
		return nil
	}
	d, ok := s.dialers[endpoint]
	delete(s.dialers, endpoint)
	if x, router := s.b.(*routerSocket); router {
		delete(x.named, endpoint)
	}
	s.mu.Unlock()
	if !ok {
		return s.errorf("disconnect", endpoint, fmt.Errorf("%w: not connected there", ErrBadEndpoint))
	}
	d.Close()
	return nil
}

// Send sends one message made of frames. What happens when peers are slow
// or absent depends on the type (see its constructor); a blocked Send ends
// with ctx or with Close.
func (s *Socket) Send(ctx context.Context, frames ...[]byte) error {
	if len(frames) == 0 {
		return s.errorf("send", "", ErrEmptyMessage)
	}
	return s.SendMsg(ctx, MsgOf(frames...))
}

// Recv returns the next message, waiting until one arrives, ctx ends or the
// socket is closed.
func (s *Socket) Recv(ctx context.Context) ([][]byte, error) {
	m, err := s.RecvMsg(ctx)
	if err != nil {
		return nil, err
	}
	return m.Frames(), nil
}

// TrySend is Send that never waits: when no peer can take the message now
// it returns at once with an error matching ErrWouldBlock (see TrySendMsg).
func (s *Socket) TrySend(frames ...[]byte) error {
	if len(frames) == 0 {
		return s.errorf("send", "", ErrEmptyMessage)
	}
	return s.TrySendMsg(MsgOf(frames...))
}

// TryRecv is Recv that never waits: with no message queued it returns at
// once with an error matching ErrWouldBlock.
func (s *Socket) TryRecv() ([][]byte, error) {
	m, err := s.TryRecvMsg()
	if err != nil {
		return nil, err
	}
	return m.Frames(), nil
}

// Close stops listening and dialling, waits up to the linger period for
// queued messages to be written, then closes every connection. Blocked
// calls return ErrClosed. Close is idempotent.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closeCh)
	ls := make(map[*engine.Listener]struct{}, len(s.listeners))
	for _, l := range s.listeners {
		ls[l] = struct{}{}
	}
	ds := make([]*engine.Dialer, 0, len(s.dialers))
	for _, d := range s.dialers {
		ds = append(ds, d)
	}
	sets := make([]*dialSet, 0, len(s.sets))
	for _, set := range s.sets {
		sets = append(sets, set)
	}
	pipes := make([]*engine.Pipe, 0, len(s.pipes))
	for p := range s.pipes {
		pipes = append(pipes, p)
	}
	s.mu.Unlock()
	s.sendSig.fire()
	s.recvSig.fire()
	for l := range ls {
		l.Close()
	}
	for _, d := range ds {
		d.Close()
	}
	for _, set := range sets {
		set.stop(false)
	}
	for _, p := range pipes {
		p.Terminate()
	}
	s.g.Close()
	done := make(chan struct{})
	go func() { s.g.Wait(); close(done) }()
	if s.cfg.linger > 0 {
		t := time.NewTimer(s.cfg.linger)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	s.g.Kill()
	<-done
	s.evMu.Lock()
	s.evClosed = true
	close(s.events)
	s.evMu.Unlock()
	return nil
}

// isClosed reports whether Close has begun.
func (s *Socket) isClosed() bool {
	select {
	case <-s.closeCh:
		return true
	default:
		return false
	}
}

// wait blocks until ch fires, ctx ends or the socket closes.
func (s *Socket) wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closeCh:
		return ErrClosed
	}
}

// host is the socket as the engine sees it (engine.Host): a type of its
// own, so that the pipe plumbing stays off Socket's public methods.
type host Socket

// EngineOptions gives the engine the socket's settings.
func (h *host) EngineOptions() *engine.Options { return &h.cfg.Options }

// Attach is engine.Host.Attach.
func (h *host) Attach(p *engine.Pipe) error {
	s := (*Socket)(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.b.attach(p); err != nil {
		return err
	}
	s.pipes[p] = struct{}{}
	p.In.SetReadable(s.recvSig.fire)
	p.Out.SetWritable(s.sendSig.fire)
	s.st.peers.Add(1)
	// A shared inproc queue may hold messages already.
	s.recvSig.fire()
	s.sendSig.fire()
	return nil
}

// Detach is engine.Host.Detach.
func (h *host) Detach(p *engine.Pipe) {
	s := (*Socket)(h)
	s.mu.Lock()
	if _, ok := s.pipes[p]; !ok {
		s.mu.Unlock()
		return
	}
	delete(s.pipes, p)
	s.b.detach(p)
	// Nobody takes what is left in its queues: it no longer counts
	// against the socket's byte bounds.
	p.In.Unpool()
	p.Out.Unpool()
	s.st.peers.Add(-1)
	s.mu.Unlock()
	s.recvSig.fire()
	s.sendSig.fire()
}

// Connected is engine.Host.Connected.
func (h *host) Connected(p *engine.Pipe) error {
	s := (*Socket)(h)
	s.mu.Lock()
	var err error
	if _, ok := s.pipes[p]; ok {
		err = s.b.connected(p)
	}
	s.mu.Unlock()
	s.sendSig.fire()
	return err
}

// Emit is engine.Host.Emit.
func (h *host) Emit(e engine.Event) {
	s := (*Socket)(h)
	s.memberFailed(&e)
	ev := eventOf(e)
	s.st.count(ev)
	s.onEvent(ev) // obs: connection hooks (hooks.go)
	lvl := slog.LevelDebug
	if ev.Err != nil && ev.Kind != EventDisconnected && ev.Kind != EventConnectRetried {
		lvl = slog.LevelWarn
	}
	if s.log.Enabled(context.Background(), lvl) {
		attrs := []any{"socket", s.name, "event", ev.Kind.String(), "endpoint", ev.Endpoint}
		if ev.Remote != "" {
			attrs = append(attrs, "remote", ev.Remote)
		}
		if ev.UserID != "" {
			attrs = append(attrs, "user", ev.UserID)
		}
		if ev.Err != nil {
			attrs = append(attrs, "err", ev.Err)
		}
		s.log.Log(context.Background(), lvl, "zmqkit: "+ev.Kind.String(), attrs...)
	}
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.evClosed {
		return
	}
	select {
	case s.events <- ev:
	default:
		s.st.eventsDropped.Add(1)
	}
}

// Events returns the socket's monitor channel: connection life as it
// happens. It is closed after Close. Events that find it full are dropped
// and counted (Stats.EventsDropped).
func (s *Socket) Events() <-chan Event { return s.events }

// signal wakes every goroutine waiting for a change. fire is cheap when
// nobody waits.
type signal struct {
	waiting atomic.Bool
	mu      sync.Mutex
	ch      chan struct{}
}

func (g *signal) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
		g.waiting.Store(true)
	}
	return g.ch
}

func (g *signal) fire() {
	if !g.waiting.Load() {
		return
	}
	g.mu.Lock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
		g.waiting.Store(false)
	}
	g.mu.Unlock()
}

type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }
