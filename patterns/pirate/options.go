package pirate

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// Option configures a Broker, a Worker or a Client. Each option's comment
// says which of them it affects; the others ignore it.
type Option func(*config) error

type config struct {
	heartbeat     time.Duration
	liveness      int
	reconnect     time.Duration
	reconnectMax  time.Duration
	timeout       time.Duration
	attempts      int
	identity      []byte
	maxQueue      int
	requestTTL    time.Duration
	maxDeliveries int
	logger        *slog.Logger
	sockOpts      []sockets.Option
}

// The defaults are the guide's: a heartbeat a second, three missed ones
// mean dead, reconnect after 1 s doubling to 32 s, and a client that tries
// three times, 2.5 s each.
const (
	DefaultHeartbeat     = time.Second
	DefaultLiveness      = 3
	DefaultReconnect     = time.Second
	DefaultReconnectMax  = 32 * time.Second
	DefaultTimeout       = 2500 * time.Millisecond
	DefaultAttempts      = 3
	DefaultMaxQueue      = 10000
	DefaultMaxDeliveries = 3
)

func newConfig(opts []Option) (config, error) {
	c := config{
		heartbeat:     DefaultHeartbeat,
		liveness:      DefaultLiveness,
		reconnect:     DefaultReconnect,
		reconnectMax:  DefaultReconnectMax,
		timeout:       DefaultTimeout,
		attempts:      DefaultAttempts,
		maxQueue:      DefaultMaxQueue,
		maxDeliveries: DefaultMaxDeliveries,
	}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return c, err
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// window is how long a peer may stay silent before it is taken for dead.
func (c *config) window() time.Duration { return c.heartbeat * time.Duration(c.liveness) }

func (c *config) socketOptions(extra ...sockets.Option) []sockets.Option {
	out := append([]sockets.Option(nil), extra...)
	return append(out, c.sockOpts...)
}

// WithHeartbeat sets the heartbeat interval and how many intervals a peer
// may stay silent before it is taken for dead (Broker, Worker; default
// DefaultHeartbeat × DefaultLiveness). Broker and workers must agree.
func WithHeartbeat(interval time.Duration, liveness int) Option {
	return func(c *config) error {
		if interval <= 0 || liveness < 1 {
			return fmt.Errorf("%w: heartbeat %v × %d", sockets.ErrBadOption, interval, liveness)
		}
		c.heartbeat, c.liveness = interval, liveness
		return nil
	}
}

// WithReconnect sets how long a Worker waits before connecting again after
// it lost the broker: initial, doubling after each attempt that hears
// nothing from the broker, up to max (default DefaultReconnect,
// DefaultReconnectMax).
func WithReconnect(initial, max time.Duration) Option {
	return func(c *config) error {
		if initial <= 0 || max < initial {
			return fmt.Errorf("%w: reconnect %v up to %v", sockets.ErrBadOption, initial, max)
		}
		c.reconnect, c.reconnectMax = initial, max
		return nil
	}
}

// WithRetry sets how long a Client waits for each reply and how many
// attempts it makes in all before it reports ErrNoReply (default
// DefaultTimeout, DefaultAttempts).
func WithRetry(timeout time.Duration, attempts int) Option {
	return func(c *config) error {
		if timeout <= 0 || attempts < 1 {
			return fmt.Errorf("%w: retry %v × %d", sockets.ErrBadOption, timeout, attempts)
		}
		c.timeout, c.attempts = timeout, attempts
		return nil
	}
}

// WithIdentity sets the routing id a Worker announces (default: none, the
// broker makes one up per connection). The broker's backend hands an id
// over to the newest connection that claims it, so a restarted worker may
// reuse its name.
func WithIdentity(id string) Option {
	return func(c *config) error {
		if len(id) == 0 || len(id) > 255 || id[0] == 0 {
			return fmt.Errorf("%w: identity must be 1-255 bytes not starting with 0", sockets.ErrBadOption)
		}
		c.identity = []byte(id)
		return nil
	}
}

// WithMaxQueue bounds how many requests a Broker holds while no worker is
// free (default DefaultMaxQueue; 0: no bound). When the queue is full the
// broker stops reading its frontend, so clients' sends wait at their
// high-water mark rather than the broker's memory growing.
func WithMaxQueue(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: max queue %d < 0", sockets.ErrBadOption, n)
		}
		c.maxQueue = n
		return nil
	}
}

// WithRequestTTL makes a Broker drop requests that have waited longer than
// d for a worker (default 0: they wait as long as it takes). A client that
// retries after its timeout has given up on the old request anyway.
func WithRequestTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: request TTL %v < 0", sockets.ErrBadOption, d)
		}
		c.requestTTL = d
		return nil
	}
}

// WithMaxDeliveries sets how many workers a Broker gives one request to,
// when workers die holding it, before dropping it (default
// DefaultMaxDeliveries): a request that kills every worker it meets is not
// passed around for ever.
func WithMaxDeliveries(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max deliveries %d < 1", sockets.ErrBadOption, n)
		}
		c.maxDeliveries = n
		return nil
	}
}

// WithLogger sets where a Broker or Worker logs workers coming and going
// (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithSocketOptions passes options to every socket the Broker, Worker or
// Client creates (high-water marks, ZMTP heartbeats, security, a logger…);
// they come after the pattern's own, so they may override its linger.
func WithSocketOptions(opts ...sockets.Option) Option {
	return func(c *config) error { c.sockOpts = append(c.sockOpts, opts...); return nil }
}
