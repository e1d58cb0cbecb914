package rpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// HandlerFunc answers one call: it gets the request payload and returns the
// reply payload, or an error for the caller (an *Error to choose the code).
// ctx carries the caller's deadline and ends when the caller gives up or
// the server shuts down; sockets.PeerFromContext(ctx) names the caller
// (with PLAIN or CURVE, its authenticated Peer.UserID).
type HandlerFunc func(ctx context.Context, req []byte) ([]byte, error)

// ServerStats is a snapshot of a Server's counters.
type ServerStats struct {
	Requests      uint64 // requests received
	Replies       uint64 // answers sent (errors included)
	Errors        uint64 // of which were errors
	Expired       uint64 // requests whose deadline passed before a worker took them
	Canceled      uint64 // calls the client canceled
	Panics        uint64 // handlers that panicked
	Malformed     uint64 // messages that were not requests
	Undeliverable uint64 // answers whose client had gone
	InFlight      int64  // requests received and not answered yet
	Socket        sockets.Stats
}

// Server answers calls on one ROUTER socket, with a bounded pool of
// workers, routing each to the handler registered for its method.
type Server struct {
	cfg  config
	sock *sockets.Socket

	hmu      sync.RWMutex
	handlers map[string]HandlerFunc

	mu        sync.Mutex
	closed    bool
	cancelRun context.CancelCauseFunc
	inflight  map[callKey]context.CancelCauseFunc

	running                                                     atomic.Bool
	requests, replies, errs, expired, canceled, panics, badMsgs atomic.Uint64
	undeliverable                                               atomic.Uint64
}

type callKey struct {
	peer string
	id   uint64
}

// call is one request on its way through the server.
type call struct {
	key     callKey
	peer    []byte
	method  string
	payload []byte
	ctx     context.Context
	cancel  func()
}

// errCanceledByClient is the cause of a handler context the client
// canceled: nobody waits for its answer.
var errCanceledByClient = errors.New("rpc: call canceled by the client")

// NewServer creates a Server. Options: WithWorkers, WithBacklog,
// WithSocketOptions.
func NewServer(opts ...ServerOption) (*Server, error) {
	cfg, err := newConfig(opts, ServerOption.applyServer)
	if err != nil {
		return nil, err
	}
	sopts := append([]sockets.Option{sockets.WithLinger(serverLinger), sockets.WithRouterMandatory(true)}, cfg.sockOpts...)
	sock, err := sockets.NewRouter(sopts...)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, sock: sock, handlers: make(map[string]HandlerFunc), inflight: make(map[callKey]context.CancelCauseFunc)}, nil
}

// Listen binds an endpoint and returns it as bound.
func (s *Server) Listen(endpoint string) (string, error) { return s.sock.Listen(endpoint) }

// Dial connects to an endpoint where clients listen (unusual, but a ROUTER
// can).
func (s *Server) Dial(endpoint string) error { return s.sock.Dial(endpoint) }

// Handle registers h for method, replacing any handler it had. It may be
// called while the server runs.
func (s *Server) Handle(method string, h HandlerFunc) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if h == nil {
		delete(s.handlers, method)
		return
	}
	s.handlers[method] = h
}

func (s *Server) handler(method string) HandlerFunc {
	s.hmu.RLock()
	defer s.hmu.RUnlock()
	return s.handlers[method]
}

// Run serves calls until ctx ends or the server is closed. When ctx ends it
// stops taking requests, cancels the handlers' contexts, answers every call
// it had taken with CodeUnavailable unless its handler finished, and
// returns ctx.Err() once the handlers have returned. After Close it returns
// an error matching ErrClosed.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("rpc: server: %w", ErrClosed)
	}
	s.cancelRun = cancel
	s.mu.Unlock()

	work := make(chan *call, s.cfg.backlog)
	var wg sync.WaitGroup
	for range s.cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				s.serve(runCtx, c)
			}
		}()
	}
	err := s.receive(runCtx, work)
	close(work)
	wg.Wait()
	s.mu.Lock()
	closed := s.closed
	s.cancelRun = nil
	s.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("rpc: server: %w", ErrClosed)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return err
}

// receive reads requests and queues them for the workers, until runCtx
// ends or the socket fails.
func (s *Server) receive(runCtx context.Context, work chan<- *call) error {
	for {
		m, from, err := s.sock.RecvMsgFrom(runCtx)
		if err != nil {
			return err
		}
		c := s.parse(runCtx, m, from)
		if c == nil {
			continue
		}
		select {
		case work <- c:
		case <-runCtx.Done():
			s.answerError(c, CodeUnavailable, "server shutting down")
			s.done(c)
			return runCtx.Err()
		}
	}
}

// parse handles a cancel or a malformed message itself, and turns a
// request into a call with its context.
func (s *Server) parse(runCtx context.Context, m sockets.Msg, from sockets.Peer) *call {
	if len(m.Tail) == 0 {
		s.badMsgs.Add(1)
		return nil
	}
	peer := m.Head
	h, err := parseHeader(m.Tail[0])
	if err != nil {
		s.badMsgs.Add(1)
		return nil
	}
	key := callKey{peer: string(peer), id: h.id}
	switch {
	case h.kind == kindCancel && len(m.Tail) == 1:
		s.mu.Lock()
		cancel := s.inflight[key]
		s.mu.Unlock()
		if cancel != nil {
			s.canceled.Add(1)
			cancel(errCanceledByClient)
		}
		return nil
	case h.kind != kindRequest:
		s.badMsgs.Add(1)
		return nil
	case len(m.Tail) == 4 && sockets.IsHeaderFrame(m.Tail[2]): // obs: headers (wire.go)
		hd, err := sockets.ReadHeaders(m.Tail[2], s.sock.HeadersEnabled())
		if err != nil {
			s.badMsgs.Add(1)
			s.answerError(&call{peer: peer, key: key}, CodeBadRequest, err.Error())
			return nil
		}
		runCtx = sockets.ContextWithHeaders(runCtx, hd)
		m.Tail = [][]byte{m.Tail[0], m.Tail[1], m.Tail[3]}
	case len(m.Tail) != 3:
		s.badMsgs.Add(1)
		s.answerError(&call{peer: peer, key: key}, CodeBadRequest, fmt.Sprintf("request of %d frames, want 3", len(m.Tail)))
		return nil
	}
	s.requests.Add(1)
	ctx, cancelCause := context.WithCancelCause(sockets.NewPeerContext(runCtx, from))
	cancel := func() { cancelCause(nil) }
	if h.timeout > 0 {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, time.Now().Add(h.timeout))
		cancel = func() { cancelDeadline(); cancelCause(nil) }
	}
	c := &call{key: key, peer: peer, method: string(m.Tail[1]), payload: m.Tail[2], ctx: ctx, cancel: cancel}
	s.mu.Lock()
	s.inflight[key] = cancelCause
	s.mu.Unlock()
	return c
}

// done forgets a call.
func (s *Server) done(c *call) {
	s.mu.Lock()
	delete(s.inflight, c.key)
	s.mu.Unlock()
	c.cancel()
}

// serve runs one call's handler and answers.
func (s *Server) serve(runCtx context.Context, c *call) {
	defer s.done(c)
	if runCtx.Err() != nil {
		s.answerError(c, CodeUnavailable, "server shutting down")
		return
	}
	if c.ctx.Err() != nil {
		if context.Cause(c.ctx) == errCanceledByClient {
			return // nobody waits
		}
		s.expired.Add(1)
		s.answerError(c, CodeDeadlineExceeded, "deadline passed before the call started")
		return
	}
	h := s.handler(c.method)
	if h == nil {
		s.answerError(c, CodeNotFound, fmt.Sprintf("no method %q", c.method))
		return
	}
	out, err := s.invoke(h, c)
	if err == nil {
		s.answer(c, header{kind: kindReply, id: c.key.id}, out)
		return
	}
	switch {
	case context.Cause(c.ctx) == errCanceledByClient:
		return
	case runCtx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		s.answerError(c, CodeUnavailable, "server shutting down")
		return
	}
	code, msg := classify(err)
	s.answerError(c, code, msg)
}

// invoke runs h, turning a panic into a CodeInternal error.
func (s *Server) invoke(h HandlerFunc, c *call) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.panics.Add(1)
			out, err = nil, Errorf(CodeInternal, "handler for %q panicked: %v", c.method, r)
		}
	}()
	return h(c.ctx, c.payload)
}

func (s *Server) answerError(c *call, code Code, msg string) {
	s.errs.Add(1)
	s.answer(c, header{kind: kindError, id: c.key.id, code: code}, []byte(msg))
}

// answer sends a reply. The ROUTER is mandatory: it waits while the
// client's queue is full (the client reads all the time) and fails at once
// if the client has gone. Close ends the wait.
func (s *Server) answer(c *call, h header, payload []byte) {
	if err := s.sock.Send(context.Background(), c.peer, h.marshal(), payload); err != nil {
		s.undeliverable.Add(1)
		return
	}
	s.replies.Add(1)
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	inFlight := int64(len(s.inflight))
	s.mu.Unlock()
	return ServerStats{
		Requests: s.requests.Load(), Replies: s.replies.Load(), Errors: s.errs.Load(),
		Expired: s.expired.Load(), Canceled: s.canceled.Load(), Panics: s.panics.Load(),
		Malformed: s.badMsgs.Load(), Undeliverable: s.undeliverable.Load(),
		InFlight: inFlight, Socket: s.sock.Stats(),
	}
}

// Close cancels the handlers' contexts and closes the socket at once:
// answers not sent yet are lost, and clients see their connection drop.
// Run then returns once the handlers have. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	cancel := s.cancelRun
	s.mu.Unlock()
	if cancel != nil {
		cancel(ErrClosed)
	}
	return s.sock.Close()
}
