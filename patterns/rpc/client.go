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

// ClientStats is a snapshot of a Client's counters.
type ClientStats struct {
	Calls       uint64 // calls sent
	Replies     uint64 // answers received for a waiting call (errors included)
	Remote      uint64 // of which were errors
	Abandoned   uint64 // calls whose context ended first
	Lost        uint64 // calls failed because a connection dropped
	LateReplies uint64 // answers for calls nobody waits for any more
	Malformed   uint64 // messages that were not answers
	InFlight    int64  // calls waiting now
	Socket      sockets.Stats
}

// Client makes calls over one DEALER socket. Any number of calls may be in
// flight at once, from any goroutines: each carries an id, and one reader
// goroutine hands every answer to the call waiting for it. A call's
// deadline travels with it, so the server stops working on it when the
// caller stops waiting.
//
// With several servers dialed, calls are spread over them round-robin.
type Client struct {
	cfg  config
	sock *sockets.Socket
	next atomic.Uint64
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	pending map[uint64]waiter

	// The monitor tells the reader about dropped connections by canceling
	// its receive; the reader then hands out what the connection delivered
	// before failing the calls it may have taken down.
	rmu        sync.Mutex
	readCancel context.CancelFunc
	dropped    bool   // a drop waits to be handled
	drops      uint64 // the socket's disconnect count at the latest drop
	dropErr    error

	calls, replies, remote, abandoned, lost, late, malformed atomic.Uint64
}

// waiter is a call in flight.
type waiter struct {
	ch chan answer
	// disconnects is the socket's count of dropped connections when the
	// call was made: a later drop may have taken the call with it.
	disconnects uint64
}

// answer is what the reader hands to a waiting call.
type answer struct {
	m   sockets.Msg
	err error
}

// NewClient creates a Client. Options: WithSocketOptions,
// WithFailOnDisconnect. Close it to end its goroutines.
func NewClient(opts ...ClientOption) (*Client, error) {
	cfg, err := newConfig(opts, ClientOption.applyClient)
	if err != nil {
		return nil, err
	}
	sock, err := sockets.NewDealer(append([]sockets.Option{sockets.WithLinger(0)}, cfg.sockOpts...)...)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, sock: sock, pending: make(map[uint64]waiter)}
	c.wg.Add(2)
	go c.read()
	go c.monitor()
	return c, nil
}

// Dial connects to a server in the background; calls made meanwhile wait
// for the connection (within their deadline).
func (c *Client) Dial(endpoint string) error { return c.sock.Dial(endpoint) }

// Call sends req to method and waits for the answer, until ctx ends. The
// server's handler sees ctx's deadline. It returns:
//   - the reply payload;
//   - a *RemoteError (errors.Is ErrRemote) when the server answered with an
//     error;
//   - ctx.Err() itself when ctx ended first; if ctx was canceled (not
//     timed out), the server is asked to cancel the handler;
//   - an error matching ErrConnectionLost when the connection dropped with
//     the call in flight, or ErrClosed when the client is closed.
func (c *Client) Call(ctx context.Context, method string, req []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	id := c.next.Add(1)
	ch := make(chan answer, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("rpc: %s: %w", method, ErrClosed)
	}
	c.pending[id] = waiter{ch: ch, disconnects: c.sock.Stats().Disconnects}
	c.mu.Unlock()

	hdr := header{kind: kindRequest, id: id, timeout: timeout}.marshal()
	frames := [][]byte{hdr, []byte(method), req}
	if c.sock.HeadersEnabled() { // obs: the context's headers (wire.go)
		if h, ok := sockets.HeadersFromContext(ctx); ok && len(h) > 0 {
			hf, err := sockets.EncodeHeaders(h)
			if err != nil {
				c.forget(id)
				return nil, fmt.Errorf("rpc: %s: %w", method, err)
			}
			frames = [][]byte{hdr, []byte(method), hf, req}
		}
	}
	if err := c.sock.Send(ctx, frames...); err != nil {
		c.forget(id)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("rpc: %s: %w", method, err)
	}
	c.calls.Add(1)
	select {
	case a := <-ch:
		return c.finish(ctx, method, a)
	case <-ctx.Done():
	}
	if !c.forget(id) {
		// The answer came in as ctx ended: take it.
		return c.finish(ctx, method, <-ch)
	}
	c.abandoned.Add(1)
	if errors.Is(ctx.Err(), context.Canceled) {
		// Tell the server; it knows about deadlines already. A send that
		// would wait is skipped: ctx is over.
		_ = c.sock.Send(ctx, header{kind: kindCancel, id: id}.marshal())
	}
	return nil, ctx.Err()
}

// forget removes a pending call; it reports whether it was still there.
func (c *Client) forget(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[id]; !ok {
		return false
	}
	delete(c.pending, id)
	return true
}

// finish turns an answer into the call's result.
func (c *Client) finish(ctx context.Context, method string, a answer) ([]byte, error) {
	if a.err != nil {
		return nil, fmt.Errorf("rpc: %s: %w", method, a.err)
	}
	h, _ := parseHeader(a.m.Head) // checked by read
	c.replies.Add(1)
	if h.kind == kindError {
		c.remote.Add(1)
		if _, ok := ctx.Deadline(); ok && h.code == CodeDeadlineExceeded {
			// The server's copy of our deadline fired a moment before
			// ours: the same event, reported the same way.
			return nil, context.DeadlineExceeded
		}
		return nil, &RemoteError{Method: method, Code: h.code, Message: string(a.m.Tail[0])}
	}
	return a.m.Tail[0], nil
}

// read hands each answer to its call, until the socket closes.
func (c *Client) read() {
	defer c.wg.Done()
	for {
		ctx, cancel := context.WithCancel(context.Background())
		c.rmu.Lock()
		c.readCancel = cancel
		dropped := c.dropped
		c.rmu.Unlock()
		open := dropped || c.receive(ctx)
		cancel()
		if !open {
			return
		}
		c.rmu.Lock()
		c.dropped = false
		drops, err := c.drops, c.dropErr
		c.rmu.Unlock()
		// What the dropped connection delivered is queued by now.
		for {
			m, err := c.sock.RecvMsg(expired)
			if err != nil {
				break
			}
			c.dispatch(m)
		}
		c.failBefore(drops, err)
	}
}

// expired is a context that has ended: a receive with it only takes what
// is queued.
var expired = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// receive dispatches answers until ctx is canceled (it returns true) or
// the socket closes (false).
func (c *Client) receive(ctx context.Context) bool {
	for {
		m, err := c.sock.RecvMsg(ctx)
		if err != nil {
			return !errors.Is(err, sockets.ErrClosed)
		}
		c.dispatch(m)
	}
}

// dispatch hands one answer to its call.
func (c *Client) dispatch(m sockets.Msg) {
	h, err := parseHeader(m.Head)
	if err != nil || (h.kind != kindReply && h.kind != kindError) || len(m.Tail) != 1 {
		c.malformed.Add(1)
		return
	}
	c.mu.Lock()
	w, ok := c.pending[h.id]
	delete(c.pending, h.id)
	c.mu.Unlock()
	if !ok {
		c.late.Add(1)
		return
	}
	w.ch <- answer{m: m}
}

// monitor fails the calls in flight when a connection drops: their
// requests or answers may have gone down with it. A call made after the
// socket counted the drop is spared: the old connection's writer had
// stopped, so its request waits in the queue for the next connection.
func (c *Client) monitor() {
	defer c.wg.Done()
	for ev := range c.sock.Events() {
		switch ev.Kind {
		case sockets.EventDisconnected: // every connection end, after the event naming its reason
			if !c.cfg.failOnDisconnect {
				continue
			}
			c.rmu.Lock()
			c.dropped = true
			c.drops = c.sock.Stats().Disconnects
			c.dropErr = fmt.Errorf("%w (%s %s)", ErrConnectionLost, ev.Kind, ev.Endpoint)
			if ev.Err != nil {
				c.dropErr = fmt.Errorf("%w (%s %s: %v)", ErrConnectionLost, ev.Kind, ev.Endpoint, ev.Err)
			}
			cancel := c.readCancel
			c.rmu.Unlock()
			if cancel != nil {
				cancel()
			}
		}
	}
}

// failBefore ends with err the calls made before the socket had counted
// disconnects drops.
func (c *Client) failBefore(disconnects uint64, err error) {
	var failed []waiter
	c.mu.Lock()
	for id, w := range c.pending {
		if w.disconnects < disconnects {
			failed = append(failed, w)
			delete(c.pending, id)
		}
	}
	c.mu.Unlock()
	c.lost.Add(uint64(len(failed)))
	for _, w := range failed {
		w.ch <- answer{err: err}
	}
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	inFlight := int64(len(c.pending))
	c.mu.Unlock()
	return ClientStats{
		Calls: c.calls.Load(), Replies: c.replies.Load(), Remote: c.remote.Load(),
		Abandoned: c.abandoned.Load(), Lost: c.lost.Load(), LateReplies: c.late.Load(),
		Malformed: c.malformed.Load(), InFlight: inFlight, Socket: c.sock.Stats(),
	}
}

// Close fails the calls in flight with ErrClosed, closes the socket and
// waits for the client's goroutines to end. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	pending := c.pending
	c.pending = make(map[uint64]waiter)
	c.mu.Unlock()
	for _, w := range pending {
		w.ch <- answer{err: ErrClosed}
	}
	err := c.sock.Close()
	c.wg.Wait()
	return err
}
