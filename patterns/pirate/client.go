package pirate

import (
	"context"
	"errors"
	"fmt"

	"github.com/zmqkit/zmqkit/patterns/internal/heartbeat"
	"github.com/zmqkit/zmqkit/patterns/reliable"
)

// ErrNoReply is returned by Client.Request when every attempt timed out.
var ErrNoReply = errors.New("zmqkit: pirate: no reply")

// Client sends requests to a Broker's frontend and retries the ones that
// get no reply in time (the guide's Lazy Pirate): after a timeout it
// closes its REQ socket, opens a new one and sends again. It is safe for
// concurrent use; requests from several goroutines take turns.
type Client struct {
	endpoint string
	lazy     *reliable.Client[[][]byte, [][]byte]
}

// NewClient creates a client for the broker frontend at endpoint. Options:
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
	return &Client{endpoint: endpoint, lazy: lazy}, nil
}

// Request sends the request's frames (none: one empty frame) and returns
// the reply's. It returns an error matching ErrNoReply once every attempt
// has timed out, ctx's error if ctx ends first, and sockets.ErrClosed
// after Close. A retried request may be served more than once.
func (c *Client) Request(ctx context.Context, request ...[]byte) ([][]byte, error) {
	if len(request) == 0 {
		request = [][]byte{{}}
	}
	reply, err := c.lazy.Call(ctx, request)
	if err != nil {
		return nil, fmt.Errorf("zmqkit: pirate client %s: %w", c.endpoint, heartbeat.NoReply(err, ErrNoReply))
	}
	return reply, nil
}

// Close closes the client's socket; a Request in progress or waiting for
// its turn returns sockets.ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	return c.lazy.Close()
}
