// Package lazypirate is the client side the Paranoid Pirate and Majordomo
// patterns share: the guide's Lazy Pirate, a REQ socket that is thrown
// away and made again when a reply does not come in time. Each pattern
// frames its requests and checks its replies itself.
package lazypirate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// Client sends requests on a REQ socket and retries one that gets no reply
// in time on a new socket. It is safe for concurrent use; requests from
// several goroutines take turns.
type Client struct {
	endpoint string
	opts     []sockets.Option
	timeout  time.Duration
	attempts int
	noReply  error

	life context.Context // ends at Close, interrupting a waiting Request
	kill context.CancelFunc

	mu   sync.Mutex
	sock *sockets.Socket
}

// New makes a client's first socket, with opts, and dials endpoint with
// it; it returns the error as is if either fails. Each attempt of a
// request waits timeout for its reply; after attempts attempts the request
// fails with an error matching noReply.
func New(endpoint string, timeout time.Duration, attempts int, noReply error, opts ...sockets.Option) (*Client, error) {
	c := &Client{endpoint: endpoint, opts: opts, timeout: timeout, attempts: attempts, noReply: noReply}
	if err := c.open(); err != nil {
		return nil, err
	}
	c.life, c.kill = context.WithCancel(context.Background())
	return c, nil
}

func (c *Client) open() error {
	s, err := sockets.NewReq(c.opts...)
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

// Request sends msg and returns the reply, making up to the configured
// number of attempts. It returns sockets.ErrClosed after Close, the error
// of a socket that could not be made, ctx's cause if ctx ends first, and
// an error matching the client's noReply once every attempt has timed
// out. Its errors carry no prefix: the pattern adds its own.
func (c *Client) Request(ctx context.Context, msg [][]byte) ([][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.life, cancel)()
	c.mu.Lock()
	defer c.mu.Unlock()
	var last error
	for attempt := 0; attempt < c.attempts; attempt++ {
		if c.life.Err() != nil {
			return nil, sockets.ErrClosed
		}
		if c.sock == nil {
			if err := c.open(); err != nil {
				return nil, err
			}
		}
		actx, done := context.WithTimeout(ctx, c.timeout)
		err := c.sock.Send(actx, msg...)
		var reply [][]byte
		if err == nil {
			reply, err = c.sock.Recv(actx)
		}
		done()
		if err == nil {
			return reply, nil
		}
		// The REQ socket still waits for the old reply: start afresh.
		c.sock.Close()
		c.sock = nil
		if c.life.Err() != nil {
			return nil, sockets.ErrClosed
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		last = err
	}
	return nil, fmt.Errorf("%w after %d attempts of %v (last: %v)", c.noReply, c.attempts, c.timeout, last)
}

// Close closes the client's socket; a Request in progress or waiting for
// its turn returns sockets.ErrClosed. Close is idempotent.
func (c *Client) Close() {
	c.kill()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock != nil {
		c.sock.Close()
		c.sock = nil
	}
}
