package pirate

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zmqkit/zmqkit/sockets"
)

// ErrNoReply is returned by Client.Request when every attempt timed out.
var ErrNoReply = errors.New("zmqkit: pirate: no reply")

// Client sends requests to a Broker's frontend and retries the ones that
// get no reply in time (the guide's Lazy Pirate): after a timeout it
// closes its REQ socket, opens a new one and sends again. It is safe for
// concurrent use; requests from several goroutines take turns.
type Client struct {
	endpoint string
	cfg      config

	life context.Context // ends at Close, interrupting a waiting Request
	kill context.CancelFunc

	mu   sync.Mutex
	sock *sockets.Socket
}

// NewClient creates a client for the broker frontend at endpoint. Options:
// WithRetry, WithSocketOptions.
func NewClient(endpoint string, opts ...Option) (*Client, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := &Client{endpoint: endpoint, cfg: cfg}
	if err := c.open(); err != nil {
		return nil, err
	}
	c.life, c.kill = context.WithCancel(context.Background())
	return c, nil
}

func (c *Client) open() error {
	s, err := sockets.NewReq(c.cfg.socketOptions(sockets.WithLinger(0))...)
	if err != nil {
		return err
	}
	if err := s.Dial(c.endpoint); err != nil {
		s.Close()
		return err
	}
	c.sock = s
	return nil
}

// Request sends the request's frames (none: one empty frame) and returns
// the reply's. It returns an error matching ErrNoReply once every attempt
// has timed out, ctx's error if ctx ends first, and sockets.ErrClosed
// after Close. A retried request may be served more than once.
func (c *Client) Request(ctx context.Context, request ...[]byte) ([][]byte, error) {
	if len(request) == 0 {
		request = [][]byte{{}}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.life, cancel)()
	c.mu.Lock()
	defer c.mu.Unlock()
	var last error
	for attempt := 0; attempt < c.cfg.attempts; attempt++ {
		if c.life.Err() != nil {
			return nil, c.errorf(sockets.ErrClosed)
		}
		if c.sock == nil {
			if err := c.open(); err != nil {
				return nil, c.errorf(err)
			}
		}
		actx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
		err := c.sock.Send(actx, request...)
		var reply [][]byte
		if err == nil {
			reply, err = c.sock.Recv(actx)
		}
		cancel()
		if err == nil {
			return reply, nil
		}
		// The REQ socket still waits for the old reply: start afresh.
		c.sock.Close()
		c.sock = nil
		if c.life.Err() != nil {
			return nil, c.errorf(sockets.ErrClosed)
		}
		if ctx.Err() != nil {
			return nil, c.errorf(context.Cause(ctx))
		}
		last = err
	}
	return nil, fmt.Errorf("zmqkit: pirate client %s: %w after %d attempts of %v (last: %v)",
		c.endpoint, ErrNoReply, c.cfg.attempts, c.cfg.timeout, last)
}

func (c *Client) errorf(err error) error {
	return fmt.Errorf("zmqkit: pirate client %s: %w", c.endpoint, err)
}

// Close closes the client's socket; a Request in progress or waiting for
// its turn returns sockets.ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	c.kill()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock != nil {
		c.sock.Close()
		c.sock = nil
	}
	return nil
}
