package reliable

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// Errors; test them with errors.Is.
var (
	// ErrNoReply ends a call whose every try timed out or was lost. The
	// error also wraps the last try's cause.
	ErrNoReply = errors.New("reliable: no reply")
	// ErrClosed is returned by calls on a closed Client or Freelance,
	// including those in progress when Close ran. It is sockets.ErrClosed.
	ErrClosed = sockets.ErrClosed
)

// Stats is a snapshot of a Client's or a Freelance's counters.
type Stats struct {
	Calls     uint64 // calls begun
	Tries     uint64 // tries made, first tries included
	Retries   uint64 // tries after the first of their call
	NoReply   uint64 // calls that ended with ErrNoReply
	Rebuilds  uint64 // Client: REQ sockets replaced after a lost reply
	Failovers uint64 // Freelance: moves to the next server after a failed try
	Stale     uint64 // Freelance: late or malformed replies dropped
	Connected int    // connections up now (Client: 0 or 1; Freelance: servers)
}

type counters struct {
	calls, tries, retries, noReply, rebuilds, failovers, stale atomic.Uint64
}

func (c *counters) snapshot(connected int) Stats {
	return Stats{
		Calls: c.calls.Load(), Tries: c.tries.Load(), Retries: c.retries.Load(),
		NoReply: c.noReply.Load(), Rebuilds: c.rebuilds.Load(), Failovers: c.failovers.Load(),
		Stale: c.stale.Load(), Connected: connected,
	}
}

// answered reports whether err came with a reply (or before any request
// left): such errors end a call at once, and the REQ socket is still in step.
func answered(err error) bool {
	return errors.Is(err, sockets.ErrRemote) || errors.Is(err, codec.ErrDecode) || errors.Is(err, codec.ErrEncode)
}

// Client is a Lazy Pirate client: request-reply with one server that
// retries with a timeout and replaces its REQ socket after each lost reply.
// It is safe for concurrent use; calls are made one at a time.
type Client[Q, R any] struct {
	endpoint string
	cfg      config
	open     func() (conn[Q, R], error) // makes a REQ socket and dials endpoint

	turn      chan struct{} // held by the call in progress
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	mu     sync.Mutex
	closed bool
	req    conn[Q, R] // nil after a lost reply, until the next try

	st counters
}

// conn is one REQ socket of a Client: typed (sockets.ReqOf) or raw
// (rawReq).
type conn[Q, R any] interface {
	Call(ctx context.Context, q Q) (R, error)
	Dial(endpoint string) error
	Stats() sockets.Stats
	Close() error
}

// NewClient creates a Lazy Pirate client for the REP server at endpoint,
// with a codec for requests and one for replies. It connects in the
// background, as Dial does.
func NewClient[Q, R any](qc codec.Codec[Q], rc codec.Codec[R], endpoint string, opts ...Option) (*Client[Q, R], error) {
	if qc == nil || rc == nil {
		return nil, bad("nil codec")
	}
	return newClient(endpoint, opts, func(opts []sockets.Option) (conn[Q, R], error) {
		return sockets.NewReqOf(qc, rc, opts...)
	})
}

// NewRawClient creates a Lazy Pirate client on multipart messages for the
// REP server (or ROUTER-based broker) at endpoint: its Call sends a
// request's frames and returns the reply's, with no codec and no error
// frames. The Majordomo and Paranoid Pirate clients are built on it.
func NewRawClient(endpoint string, opts ...Option) (*Client[[][]byte, [][]byte], error) {
	return newClient(endpoint, opts, func(opts []sockets.Option) (conn[[][]byte, [][]byte], error) {
		s, err := sockets.NewReq(opts...)
		return rawReq{s}, err
	})
}

// rawReq is a raw REQ socket with a Call.
type rawReq struct{ *sockets.Socket }

func (r rawReq) Call(ctx context.Context, request [][]byte) ([][]byte, error) {
	if err := r.Send(ctx, request...); err != nil {
		return nil, err
	}
	return r.Recv(ctx)
}

func newClient[Q, R any](endpoint string, opts []Option, newReq func([]sockets.Option) (conn[Q, R], error)) (*Client[Q, R], error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.tries == 0 {
		cfg.tries = DefaultTries
	}
	c := &Client[Q, R]{endpoint: endpoint, cfg: cfg, turn: make(chan struct{}, 1), done: make(chan struct{})}
	c.open = func() (conn[Q, R], error) {
		// Immediate: a request waits for a connection rather than in the
		// queue of one that is not up; Stats.Connected then reads the pipe
		// count.
		req, err := newReq(cfg.socketOptions(sockets.WithImmediate(true)))
		if err != nil {
			return nil, err
		}
		if err := req.Dial(endpoint); err != nil {
			req.Close()
			return nil, err
		}
		return req, nil
	}
	if _, err := c.socket(); err != nil {
		return nil, err
	}
	return c, nil
}

// Call sends q and returns the reply. Each try waits up to the timeout
// (WithTimeout); after a lost reply the REQ socket is replaced and q sent
// again, up to WithTries tries, after which Call returns an error matching
// ErrNoReply and wrapping the last try's cause. A handler error on the
// server (sockets.ErrRemote) or an undecodable reply is returned at once.
// If ctx ends first, Call returns ctx's error.
func (c *Client[Q, R]) Call(ctx context.Context, q Q) (R, error) {
	var zero R
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-c.done:
		return zero, ErrClosed
	}
	defer func() { <-c.turn }()
	c.st.calls.Add(1)
	var last error
	for try := 1; try <= c.cfg.tries; try++ {
		if try > 1 {
			c.st.retries.Add(1)
		}
		c.st.tries.Add(1)
		req, err := c.socket()
		if err != nil {
			return zero, err
		}
		tctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
		r, err := req.Call(tctx, q)
		cancel()
		if err == nil || answered(err) {
			return r, err
		}
		// The reply is lost, or late: REQ would wait for it forever.
		c.discard(req)
		select {
		case <-c.done:
			return zero, ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return zero, fmt.Errorf("reliable: call %s: %w", c.endpoint, ctx.Err())
		}
		last = err
		if try < c.cfg.tries && c.cfg.onRetry != nil {
			c.cfg.onRetry(try, err)
		}
	}
	c.st.noReply.Add(1)
	return zero, fmt.Errorf("%w from %s after %d tries of %v: %w", ErrNoReply, c.endpoint, c.cfg.tries, c.cfg.timeout, last)
}

// socket returns the REQ socket, making a new one after a lost reply.
func (c *Client[Q, R]) socket() (conn[Q, R], error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.req != nil {
		return c.req, nil
	}
	req, err := c.open()
	if err != nil {
		return nil, err
	}
	c.req = req
	return req, nil
}

func (c *Client[Q, R]) discard(req conn[Q, R]) {
	c.mu.Lock()
	if c.req == req {
		c.req = nil
		c.st.rebuilds.Add(1)
	}
	c.mu.Unlock()
	_ = req.Close()
}

// Endpoint is the server's endpoint.
func (c *Client[Q, R]) Endpoint() string { return c.endpoint }

// Stats returns a snapshot of the counters.
func (c *Client[Q, R]) Stats() Stats {
	c.mu.Lock()
	connected := 0
	if c.req != nil && c.req.Stats().Peers > 0 {
		connected = 1
	}
	c.mu.Unlock()
	return c.st.snapshot(connected)
}

// Close ends a call in progress with ErrClosed and closes the socket. It
// is idempotent.
func (c *Client[Q, R]) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		req := c.req
		c.req = nil
		c.mu.Unlock()
		close(c.done)
		if req != nil {
			_ = req.Close()
		}
	})
	return nil
}
