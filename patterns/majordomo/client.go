package majordomo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zmqkit/zmqkit/sockets"
)

var (
	// ErrNoReply is returned by Client.Send when every attempt timed out.
	ErrNoReply = errors.New("zmqkit: majordomo: no reply")
	// ErrProtocol is returned by Client.Send for a reply that is not
	// MDP/0.1 or names another service.
	ErrProtocol = errors.New("zmqkit: majordomo: malformed reply")
)

// Client sends requests to services through a Broker, over a REQ socket as
// 7/MDP recommends, and retries a request that gets no reply in time on a
// new socket. It is safe for concurrent use; requests from several
// goroutines take turns.
type Client struct {
	endpoint string
	cfg      config
	life     context.Context // ends at Close, interrupting a waiting Send
	kill     context.CancelFunc

	mu   sync.Mutex
	sock *sockets.Socket
}

// NewClient creates a client for the broker at endpoint. Options:
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

// Send sends a request (its body frames; none: one empty frame) to service
// and returns the reply's body frames. It makes up to the configured
// number of attempts, each waiting the configured timeout, and returns an
// error matching ErrNoReply when all have timed out, ctx's error if ctx
// ends first, ErrProtocol for a malformed reply, and sockets.ErrClosed
// after Close. A retried request may be served more than once.
func (c *Client) Send(ctx context.Context, service string, request ...[]byte) ([][]byte, error) {
	if len(request) == 0 {
		request = [][]byte{{}}
	}
	msg := make([][]byte, 0, 2+len(request))
	msg = append(append(msg, clientHeader, []byte(service)), request...)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.life, cancel)()
	c.mu.Lock()
	defer c.mu.Unlock()
	var last error
	for attempt := 0; attempt < c.cfg.attempts; attempt++ {
		if c.life.Err() != nil {
			return nil, c.errorf(service, sockets.ErrClosed)
		}
		if c.sock == nil {
			if err := c.open(); err != nil {
				return nil, c.errorf(service, err)
			}
		}
		actx, done := context.WithTimeout(ctx, c.cfg.timeout)
		err := c.sock.Send(actx, msg...)
		var reply [][]byte
		if err == nil {
			reply, err = c.sock.Recv(actx)
		}
		done()
		if err == nil {
			if len(reply) < 3 || string(reply[0]) != ClientHeader || string(reply[1]) != service {
				return nil, c.errorf(service, fmt.Errorf("%w: %d frames, header %q", ErrProtocol, len(reply), first(reply)))
			}
			return reply[2:], nil
		}
		// The REQ socket still waits for the old reply: start afresh.
		c.sock.Close()
		c.sock = nil
		if c.life.Err() != nil {
			return nil, c.errorf(service, sockets.ErrClosed)
		}
		if ctx.Err() != nil {
			return nil, c.errorf(service, context.Cause(ctx))
		}
		last = err
	}
	return nil, c.errorf(service, fmt.Errorf("%w after %d attempts of %v (last: %v)",
		ErrNoReply, c.cfg.attempts, c.cfg.timeout, last))
}

func first(f [][]byte) []byte {
	if len(f) == 0 {
		return nil
	}
	return f[0]
}

func (c *Client) errorf(service string, err error) error {
	return fmt.Errorf("zmqkit: majordomo client %s service %q: %w", c.endpoint, service, err)
}

// Close closes the client's socket; a Send in progress or waiting for its
// turn returns sockets.ErrClosed. Close is idempotent.
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
