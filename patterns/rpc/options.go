package rpc

import (
	"fmt"
	"time"

	"github.com/zmqkit/zmqkit/patterns/internal/options"
	"github.com/zmqkit/zmqkit/sockets"
)

// Options are typed by role: NewClient takes ClientOptions and NewServer
// ServerOptions. An Option is accepted by both; giving a role an option
// meant for the other does not compile.
type (
	// ClientOption configures a Client.
	ClientOption interface{ applyClient(*config) error }
	// ServerOption configures a Server.
	ServerOption interface{ applyServer(*config) error }
	// Option configures a Client or a Server.
	Option interface {
		ClientOption
		ServerOption
	}
)

type (
	forClient func(*config) error
	forServer func(*config) error
	forBoth   struct {
		forClient
		forServer
	}
)

func (f forClient) applyClient(c *config) error { return f(c) }
func (f forServer) applyServer(c *config) error { return f(c) }
func both(f func(*config) error) Option         { return forBoth{f, f} }

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

// newConfig returns the defaults with opts applied by apply, the role's
// method.
func newConfig[O any](opts []O, apply func(O, *config) error) (config, error) {
	c := config{workers: DefaultWorkers, failOnDisconnect: true}
	if err := options.Apply(&c, opts, apply); err != nil {
		return c, err
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
func WithWorkers(n int) ServerOption {
	return forServer(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: workers %d <= 0", ErrBadOption, n)
		}
		c.workers = n
		return nil
	})
}

// WithBacklog sets how many received requests a Server holds while all its
// workers are busy (default: as many as workers). A request whose deadline
// passes while it waits is dropped without running.
func WithBacklog(n int) ServerOption {
	return forServer(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: backlog %d <= 0", ErrBadOption, n)
		}
		c.backlog = n
		return nil
	})
}

// WithSocketOptions passes options to the socket underneath (the Client's
// DEALER, the Server's ROUTER), after this package's defaults: linger 0 for
// the client, 1 s for the server, and WithRouterMandatory for the server
// so that a reply waits for room instead of being dropped. With
// sockets.WithHeartbeat, a client also notices a server that vanished
// without closing its connections, and fails the calls in flight.
func WithSocketOptions(opts ...sockets.Option) Option {
	return both(func(c *config) error { c.sockOpts = append(c.sockOpts, opts...); return nil })
}

// WithFailOnDisconnect decides whether a Client fails its calls in flight
// with ErrConnectionLost when a connection drops (default true). The client
// cannot tell which connection a call went out on, so with several servers
// every call in flight fails; without it, those calls wait for their
// deadline instead.
func WithFailOnDisconnect(on bool) ClientOption {
	return forClient(func(c *config) error { c.failOnDisconnect = on; return nil })
}
