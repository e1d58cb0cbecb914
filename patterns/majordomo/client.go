package majordomo

import (
	"context"
	"errors"
	"fmt"
	"github.com/zmqkit/zmqkit/sockets"

	"github.com/zmqkit/zmqkit/patterns/internal/heartbeat"
	"github.com/zmqkit/zmqkit/patterns/reliable"
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
	lazy     *reliable.Client[[][]byte, [][]byte]
	headers  bool // obs: sockets.WithHeaders among the socket options
}

// NewClient creates a client for the broker at endpoint. Options:
// WithRetry, WithSocketOptions.
func NewClient(endpoint string, opts ...ClientOption) (*Client, error) {
	cfg, err := heartbeat.Client(defaults, opts)
	if err != nil {
		return nil, err
	}
	lazy, err := reliable.NewRawClient(endpoint, cfg.LazyPirate()...)
	if err != nil {
		return nil, err
	}
	// obs: whether the socket options turn headers on, asked of a socket
	// made with them and never connected.
	probe, err := sockets.NewDealer(cfg.SocketOptions()...)
	if err != nil {
		return nil, err
	}
	headers := probe.HeadersEnabled()
	probe.Close()
	return &Client{endpoint: endpoint, lazy: lazy, headers: headers}, nil
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
	msg := make([][]byte, 0, 3+len(request))
	msg = append(msg, clientHeader, []byte(service))
	if c.headers { // obs: the context's headers as the first body frame
		if h, ok := sockets.HeadersFromContext(ctx); ok && len(h) > 0 {
			hf, err := sockets.EncodeHeaders(h)
			if err != nil {
				return nil, c.errorf(service, err)
			}
			msg = append(msg, hf)
		}
	}
	msg = append(msg, request...)
	reply, err := c.lazy.Call(ctx, msg)
	if err != nil {
		return nil, c.errorf(service, heartbeat.NoReply(err, ErrNoReply))
	}
	if len(reply) < 3 || string(reply[0]) != ClientHeader || string(reply[1]) != service {
		return nil, c.errorf(service, fmt.Errorf("%w: %d frames, header %q", ErrProtocol, len(reply), first(reply)))
	}
	return reply[2:], nil
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
	return c.lazy.Close()
}
