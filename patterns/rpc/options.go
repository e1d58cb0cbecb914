package rpc

import (
	"fmt"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// Option configures a Client or a Server; each option says which.
type Option func(*config) error

type config struct {
	sockOpts         []sockets.Option
	workers, backlog int
	failOnDisconnect bool
}

// DefaultWorkers is how many requests a Server handles at once unless
// WithWorkers says otherwise.
const DefaultWorkers = 64

// serverLinger bounds how long Server.Close waits to write out replies;
// a client's requests are worthless once it closes, so its linger is 0.
const serverLinger = time.Second

func newConfig(opts []Option) (config, error) {
	c := config{workers: DefaultWorkers, failOnDisconnect: true}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return c, err
		}
	}
	if c.backlog == 0 {
		c.backlog = c.workers
	}
	return c, nil
}

// WithWorkers sets how many requests a Server handles at once (default
// DefaultWorkers). Requests beyond it wait, first in the server's backlog
// (WithBacklog), then in the sockets' queues, and finally hold the clients'
// sends back: nothing grows without bound.
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: workers %d <= 0", ErrBadOption, n)
		}
		c.workers = n
		return nil
	}
}

// WithBacklog sets how many received requests a Server holds while all its
// workers are busy (default: as many as workers). A request whose deadline
// passes while it waits is dropped without running.
func WithBacklog(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: backlog %d <= 0", ErrBadOption, n)
		}
		c.backlog = n
		return nil
	}
}

// WithSocketOptions passes options to the socket underneath (the Client's
// DEALER, the Server's ROUTER), after this package's defaults: linger 0 for
// the client, 1 s for the server, and WithRouterMandatory for the server
// so that a reply waits for room instead of being dropped. With
// sockets.WithHeartbeat, a client also notices a server that vanished
// without closing its connections, and fails the calls in flight.
func WithSocketOptions(opts ...sockets.Option) Option {
	return func(c *config) error { c.sockOpts = append(c.sockOpts, opts...); return nil }
}

// WithFailOnDisconnect decides whether a Client fails its calls in flight
// with ErrConnectionLost when a connection drops (default true). The client
// cannot tell which connection a call went out on, so with several servers
// every call in flight fails; without it, those calls wait for their
// deadline instead.
func WithFailOnDisconnect(on bool) Option {
	return func(c *config) error { c.failOnDisconnect = on; return nil }
}
