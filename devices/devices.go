// Package devices joins two sockets into a proxy, as libzmq's zmq_proxy
// does: Forwarder (XSUB ↔ XPUB, subscriptions flowing upstream), Queue
// (ROUTER ↔ DEALER), Streamer (PULL → PUSH), or any other compatible pair.
//
// A Proxy can copy every message to a capture socket, and be paused,
// resumed, terminated and asked for statistics, in process or over a control
// socket speaking libzmq's steerable-proxy protocol, so that libzmq and pyzmq
// programs can steer it too. The proxy does not own its sockets: the caller
// creates, binds and closes them.
package devices

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
	"golang.org/x/sync/errgroup"
)

// Errors from NewProxy and Run.
var (
	ErrIncompatible = errors.New("devices: socket types cannot be proxied")
	ErrRunning      = errors.New("devices: proxy is already running")
)

// SideStats counts what went through one side of a proxy: the counters of
// that side's socket.
type SideStats struct {
	MsgsIn, BytesIn   uint64 // received from this side's socket
	MsgsOut, BytesOut uint64 // sent out of this side's socket
	Dropped           uint64 // dropped by the socket (slow subscriber, unroutable, conflated)
}

// Stats is a snapshot of a proxy's counters.
type Stats struct {
	Frontend, Backend SideStats
	CaptureDropped    uint64 // capture copies that found the capture socket full
	Paused            bool
}

// Proxy moves messages between a frontend and a backend socket.
type Proxy struct {
	front, back *sockets.Socket
	capture     *sockets.Socket
	captureDir  bool
	control     *sockets.Socket
	log         *slog.Logger
	drain       time.Duration
	hop         HopFunc // obs: WithHop (hop.go)

	captureDropped atomic.Uint64
	running        atomic.Bool

	// paused is read without the lock on every message the pumps move;
	// it and resumed change together under mu.
	mu      sync.Mutex
	paused  atomic.Bool
	resumed chan struct{} // closed on Resume
	// left holds what each pump (0: frontend to backend, 1: back) had
	// taken from its source but not sent when it stopped: the drain sends
	// it first.
	left      [2][]sockets.Msg
	terminate chan struct{}
	termOnce  sync.Once
}

// Option configures a Proxy.
type Option func(*Proxy) error

// WithCapture copies every message, either way, to s (PUB, PUSH, DEALER,
// PAIR or XPUB). With direction, each copy starts with a frame "in"
// (frontend to backend) or "out" (backend to frontend), as pyzmq's
// MonitoredQueue does. A copy that finds s full is dropped and counted:
// the capture never slows the proxy down. Each copy has frames of its own,
// so that what the capture's receivers do to them never reaches the
// proxied message, nor the other way round.
func WithCapture(s *sockets.Socket, direction bool) Option {
	return func(p *Proxy) error {
		switch s.Type() {
		case sockets.Pub, sockets.XPub, sockets.Push, sockets.Dealer, sockets.Pair:
		default:
			return fmt.Errorf("%w: capture socket must be PUB, XPUB, PUSH, DEALER or PAIR, not %s", ErrIncompatible, s.Type())
		}
		p.capture, p.captureDir = s, direction
		return nil
	}
}

// WithControl steers the proxy from s (REP or PAIR) with libzmq's commands:
// PAUSE, RESUME, TERMINATE (a REP gets an empty reply) and STATISTICS
// (answered with 8 frames of 8-byte little-endian counters, in libzmq's
// order: frontend messages in, bytes in, messages out, bytes out, then the
// same for the backend).
func WithControl(s *sockets.Socket) Option {
	return func(p *Proxy) error {
		if s.Type() != sockets.Rep && s.Type() != sockets.Pair {
			return fmt.Errorf("%w: control socket must be REP or PAIR, not %s", ErrIncompatible, s.Type())
		}
		p.control = s
		return nil
	}
}

// WithDrain sets how long Run, once told to stop, goes on forwarding what
// has reached its sockets (default 5 s; 0: stop at once): what they hold,
// and what still arrives until both sides have been quiet for 100 ms, so
// that bytes already on the host but not yet read are not lost. A peer
// that never stops sending keeps the drain going for the whole period.
//
// A request/reply proxy (a ROUTER frontend and a DEALER backend, as
// NewQueue makes) drains otherwise: it takes no new request from the
// frontend from the moment it is told to stop, and forwards replies from
// the backend until every request it gave the backend has had one (a
// slow worker's included), or the period ends. A client whose request
// was not taken gets no reply and may retry elsewhere.
//
// The drain is logged when it starts ("zmqkit: proxy draining") and when
// it ends. A paused proxy does not drain.
func WithDrain(d time.Duration) Option {
	return func(p *Proxy) error {
		if d < 0 {
			return fmt.Errorf("devices: drain %v < 0", d)
		}
		p.drain = d
		return nil
	}
}

// WithLogger logs control commands and the end of Run.
func WithLogger(l *slog.Logger) Option {
	return func(p *Proxy) error { p.log = l; return nil }
}

func canRecv(t sockets.Type) bool { return t != sockets.Push && t != sockets.Pub }
func canSend(t sockets.Type) bool { return t != sockets.Pull && t != sockets.Sub }

// NewProxy joins frontend and backend: messages received on one side are
// sent out of the other, in every direction the two types allow.
func NewProxy(frontend, backend *sockets.Socket, opts ...Option) (*Proxy, error) {
	ft, bt := frontend.Type(), backend.Type()
	if !(canRecv(ft) && canSend(bt)) && !(canRecv(bt) && canSend(ft)) {
		return nil, fmt.Errorf("%w: %s frontend, %s backend", ErrIncompatible, ft, bt)
	}
	p := &Proxy{front: frontend, back: backend, terminate: make(chan struct{}), drain: 5 * time.Second}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

func newTyped(frontend, backend *sockets.Socket, ft, bt sockets.Type, name string, opts []Option) (*Proxy, error) {
	if frontend.Type() != ft || backend.Type() != bt {
		return nil, fmt.Errorf("%w: a %s needs a %s frontend and a %s backend, got %s and %s",
			ErrIncompatible, name, ft, bt, frontend.Type(), backend.Type())
	}
	return NewProxy(frontend, backend, opts...)
}

// NewForwarder makes a pub/sub forwarder: publishers talk to the XSUB
// frontend, subscribers to the XPUB backend, and subscriptions travel from
// the backend up to the publishers so that they filter at the source.
func NewForwarder(frontend, backend *sockets.Socket, opts ...Option) (*Proxy, error) {
	return newTyped(frontend, backend, sockets.XSub, sockets.XPub, "forwarder", opts)
}

// NewQueue makes a request/reply queue: clients (REQ, DEALER) talk to the
// ROUTER frontend, workers (REP, DEALER) to the DEALER backend; requests
// are load-balanced over workers and replies routed back to their client.
func NewQueue(frontend, backend *sockets.Socket, opts ...Option) (*Proxy, error) {
	return newTyped(frontend, backend, sockets.Router, sockets.Dealer, "queue", opts)
}

// NewStreamer makes a pipeline streamer: PUSH producers talk to the PULL
// frontend, PULL workers to the PUSH backend.
func NewStreamer(frontend, backend *sockets.Socket, opts ...Option) (*Proxy, error) {
	return newTyped(frontend, backend, sockets.Pull, sockets.Push, "streamer", opts)
}

// Run moves messages until ctx ends (it returns ctx.Err()), Terminate is
// called or a TERMINATE command arrives (it returns nil), or a socket fails
// (it returns that error, errors.Is sockets.ErrClosed when the caller closed
// one). What the sockets have queued is written out when the caller closes
// them, within their linger period.
func (p *Proxy) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer p.running.Store(false)
	p.mu.Lock()
	p.left = [2][]sockets.Msg{}
	p.mu.Unlock()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error {
		select {
		case <-p.terminate:
			cancel()
		case <-gctx.Done():
		}
		return nil
	})
	ft, bt := p.front.Type(), p.back.Type()
	if canRecv(ft) && canSend(bt) {
		g.Go(func() error { return p.pump(gctx, p.front, p.back, "in") })
	}
	if canRecv(bt) && canSend(ft) {
		g.Go(func() error { return p.pump(gctx, p.back, p.front, "out") })
	}
	if p.control != nil {
		g.Go(func() error { return p.steer(gctx) })
	}
	err := g.Wait()
	switch {
	case p.terminated():
		err = nil
	case ctx.Err() != nil:
		err = ctx.Err()
	}
	if (err == nil || ctx.Err() != nil) && p.drain > 0 {
		if ft == sockets.Router && bt == sockets.Dealer {
			p.drainReplies()
		} else {
			p.drainQueued(canRecv(ft) && canSend(bt), canRecv(bt) && canSend(ft))
		}
	}
	p.log.Info("zmqkit: proxy stopped", "err", err)
	return err
}

// drainIdle is how long the drain waits for one more message: bytes that
// reached the host just before the stop still sit in the kernel, or in a
// connection's reader, for a moment before the socket holds them.
const drainIdle = 100 * time.Millisecond

// drainQueued forwards, within p.drain, the messages that have reached the
// proxy's sockets: what they hold, and what comes in until they have been
// quiet for drainIdle. A graceful stop loses nothing that had arrived.
func (p *Proxy) drainQueued(forward, backward bool) {
	if p.paused.Load() {
		return
	}
	p.log.Info("zmqkit: proxy draining", "within", p.drain.String())
	ctx, cancel := context.WithTimeout(context.Background(), p.drain)
	defer cancel()
	moved := p.sendLeft(ctx)
	move := func(src, dst *sockets.Socket) bool {
		rctx, cancelRecv := context.WithTimeout(ctx, drainIdle)
		m, err := src.RecvMsg(rctx)
		cancelRecv()
		if err != nil {
			return false
		}
		if p.forward(ctx, dst, m, src == p.front) != nil { // obs: hop.go
			return false
		}
		moved++
		return true
	}
	for more := true; more && ctx.Err() == nil; {
		more = false
		if forward && move(p.front, p.back) {
			more = true
		}
		if backward && move(p.back, p.front) {
			more = true
		}
	}
	p.log.Info("zmqkit: proxy drained", "messages", moved)
}

// drainReplies is the drain of a request/reply proxy: the pumps have
// stopped, so no request is taken any more; replies go on to the frontend
// until every request the backend took has been answered, within p.drain.
// What is awaited is read off the backend's own counters (requests it
// accepted, replies it delivered), as Stats is: nothing is counted on the
// hot path for it.
func (p *Proxy) drainReplies() {
	if p.paused.Load() {
		return
	}
	awaited := func() int64 {
		st := p.back.Stats()
		return max(int64(st.MsgsOut)-int64(st.MsgsIn), 0)
	}
	p.log.Info("zmqkit: proxy draining", "within", p.drain.String(), "awaiting_replies", awaited())
	ctx, cancel := context.WithTimeout(context.Background(), p.drain)
	defer cancel()
	moved := p.sendLeft(ctx)
	for awaited() > 0 {
		m, err := p.back.RecvMsg(ctx)
		if err != nil {
			break
		}
		if p.forward(ctx, p.front, m, false) == nil { // obs: hop.go
			moved++
		}
	}
	p.log.Info("zmqkit: proxy drained", "replies", moved, "unanswered", awaited())
}

// sendLeft sends, within ctx, what the pumps had taken but not sent
// when they stopped, each to where it was going, and returns how many it
// sent.
func (p *Proxy) sendLeft(ctx context.Context) int {
	p.mu.Lock()
	left := p.left
	p.left = [2][]sockets.Msg{}
	p.mu.Unlock()
	sent := 0
	for i, dst := range []*sockets.Socket{p.back, p.front} {
		n, _ := p.forwardAll(ctx, dst, left[i], i == 0)
		sent += n
	}
	return sent
}

func (p *Proxy) terminated() bool {
	select {
	case <-p.terminate:
		return true
	default:
		return false
	}
}

// stopped turns the error of a socket call that ended because the proxy is
// stopping into nil.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// batchLen is how many messages a pump takes from its source at once:
// those already queued, up to this many. It pays the two sockets' locks
// and counters once per batch rather than once per message.
const batchLen = 64

func (p *Proxy) pump(ctx context.Context, src, dst *sockets.Socket, dir string) error {
	prefix := []byte(dir)
	batch := make([]sockets.Msg, batchLen)
	in := dir == "in"
	for {
		// RecvMsgs hands over messages already there even with ctx done:
		// a stop must not wait for the backlog to run dry.
		if ctx.Err() != nil {
			return nil
		}
		if err := p.waitResumed(ctx); err != nil {
			return nil
		}
		n, err := src.RecvMsgs(ctx, batch)
		if err != nil {
			return stopped(ctx, err)
		}
		ms := batch[:n]
		if err := p.waitResumed(ctx); err != nil {
			p.leave(in, ms)
			return nil
		}
		if p.capture != nil {
			for _, m := range ms {
				c := m
				if p.captureDir {
					c = m.Prepend(prefix)
				}
				// The copy has frames of its own: m goes on to dst, and each
				// receiver may change the frames it gets.
				// Never wait on the tap.
				if err := p.capture.TrySendMsg(c.Clone()); err != nil {
					p.captureDropped.Add(1)
				}
			}
		}
		sent, err := p.forwardAll(ctx, dst, ms, in) // obs: hop.go
		if err != nil {
			p.leave(in, ms[sent:])
			return stopped(ctx, err)
		}
		clear(ms)
	}
}

// leave keeps the messages a pump had taken but not sent when it stopped,
// for the drain to send first: a stop loses nothing the proxy had taken.
func (p *Proxy) leave(in bool, ms []sockets.Msg) {
	if len(ms) == 0 {
		return
	}
	p.mu.Lock()
	p.left[dirIndex(in)] = ms // the pump that took them has ended
	p.mu.Unlock()
}

func dirIndex(in bool) int {
	if in {
		return 0
	}
	return 1
}

func (p *Proxy) waitResumed(ctx context.Context) error {
	if !p.paused.Load() {
		return nil
	}
	p.mu.Lock()
	if !p.paused.Load() {
		p.mu.Unlock()
		return nil
	}
	ch := p.resumed
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pause stops moving messages (they wait in the sockets' queues, up to
// their HWMs, and a batch the proxy had taken waits in its hands) until
// Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	if !p.paused.Load() {
		p.resumed = make(chan struct{})
		p.paused.Store(true)
	}
	p.mu.Unlock()
}

// Resume undoes Pause.
func (p *Proxy) Resume() {
	p.mu.Lock()
	if p.paused.Load() {
		p.paused.Store(false)
		close(p.resumed)
	}
	p.mu.Unlock()
}

// Terminate makes Run return nil. It is idempotent.
func (p *Proxy) Terminate() { p.termOnce.Do(func() { close(p.terminate) }) }

// Stats returns a snapshot of the proxy's counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Frontend:       side(p.front.Stats()),
		Backend:        side(p.back.Stats()),
		CaptureDropped: p.captureDropped.Load(),
		Paused:         p.paused.Load(),
	}
}

// side reads a side's counters off its socket, as libzmq's STATISTICS
// does: the proxy keeps no counters of its own on its hot path.
func side(s sockets.Stats) SideStats {
	return SideStats{
		MsgsIn: s.MsgsIn, BytesIn: s.BytesIn, MsgsOut: s.MsgsOut, BytesOut: s.BytesOut,
		Dropped: s.Dropped + s.Unroutable + s.Conflated,
	}
}

// steer serves the control socket.
func (p *Proxy) steer(ctx context.Context) error {
	rep := p.control.Type() == sockets.Rep
	for {
		frames, err := p.control.Recv(ctx)
		if err != nil {
			return stopped(ctx, err)
		}
		cmd := string(frames[0])
		p.log.Info("zmqkit: proxy control", "command", cmd)
		var reply [][]byte
		switch cmd {
		case "PAUSE":
			p.Pause()
		case "RESUME":
			p.Resume()
		case "TERMINATE":
		case "STATISTICS":
			st := p.Stats()
			for _, v := range []uint64{
				st.Frontend.MsgsIn, st.Frontend.BytesIn, st.Frontend.MsgsOut, st.Frontend.BytesOut,
				st.Backend.MsgsIn, st.Backend.BytesIn, st.Backend.MsgsOut, st.Backend.BytesOut,
			} {
				reply = append(reply, binary.LittleEndian.AppendUint64(nil, v))
			}
		default:
			p.log.Warn("zmqkit: unknown proxy control command", "command", cmd)
		}
		if reply == nil && rep {
			reply = [][]byte{{}}
		}
		if reply != nil {
			if err := p.control.Send(ctx, reply...); err != nil {
				return stopped(ctx, err)
			}
		}
		if cmd == "TERMINATE" {
			p.Terminate()
			return nil
		}
	}
}
