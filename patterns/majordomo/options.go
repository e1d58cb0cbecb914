package majordomo

import (
	"log/slog"
	"time"

	"github.com/zmqkit/zmqkit/patterns/internal/heartbeat"
	"github.com/zmqkit/zmqkit/sockets"
)

// Option configures a Broker, a Worker or a Client. Each option's comment
// says which of them it affects; the others ignore it.
type Option func(*config) error

// config is the configuration the patterns share; its fields are
// heartbeat.Config's.
type config struct{ heartbeat.Config }

// The defaults follow the guide's Majordomo: a heartbeat every 2.5 s,
// three missed ones mean dead, reconnect after 2.5 s (doubling to 30 s
// while the broker stays away), a client that tries three times, 2.5 s
// each, and queued requests that expire after 10 s.
const (
	DefaultHeartbeat     = 2500 * time.Millisecond
	DefaultLiveness      = 3
	DefaultReconnect     = 2500 * time.Millisecond
	DefaultReconnectMax  = 30 * time.Second
	DefaultTimeout       = 2500 * time.Millisecond
	DefaultAttempts      = 3
	DefaultMaxQueue      = 10000
	DefaultRequestTTL    = 10 * time.Second
	DefaultMaxDeliveries = 3
)

func newConfig(opts []Option) (config, error) {
	c := config{heartbeat.Config{
		Heartbeat:     DefaultHeartbeat,
		Liveness:      DefaultLiveness,
		Reconnect:     DefaultReconnect,
		ReconnectMax:  DefaultReconnectMax,
		Timeout:       DefaultTimeout,
		Attempts:      DefaultAttempts,
		MaxQueue:      DefaultMaxQueue,
		RequestTTL:    DefaultRequestTTL,
		MaxDeliveries: DefaultMaxDeliveries,
	}}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return c, err
		}
	}
	c.Finish()
	return c, nil
}

// WithHeartbeat sets the heartbeat interval and how many intervals a peer
// may stay silent before it is taken for dead (Broker, Worker; default
// DefaultHeartbeat × DefaultLiveness). Broker and workers must agree.
func WithHeartbeat(interval time.Duration, liveness int) Option {
	return func(c *config) error { return c.SetHeartbeat(interval, liveness) }
}

// WithReconnect sets how long a Worker waits before connecting again after
// it lost the broker: initial, doubling after each attempt that hears
// nothing from the broker, up to max (default DefaultReconnect,
// DefaultReconnectMax).
func WithReconnect(initial, max time.Duration) Option {
	return func(c *config) error { return c.SetReconnect(initial, max) }
}

// WithRetry sets how long a Client waits for each reply and how many
// attempts it makes in all before it reports ErrNoReply (default
// DefaultTimeout, DefaultAttempts).
func WithRetry(timeout time.Duration, attempts int) Option {
	return func(c *config) error { return c.SetRetry(timeout, attempts) }
}

// WithIdentity sets the routing id a Worker announces (default: none, the
// broker makes one up per connection). The broker hands an id over to the
// newest connection that claims it, so a restarted worker may reuse its
// name.
func WithIdentity(id string) Option {
	return func(c *config) error { return c.SetIdentity(id) }
}

// WithMaxQueue bounds how many requests a Broker holds, over all services,
// while no worker is free (default DefaultMaxQueue; 0: no bound). A request
// that finds the queue full is dropped and counted; its client times out.
func WithMaxQueue(n int) Option {
	return func(c *config) error { return c.SetMaxQueue(n) }
}

// WithRequestTTL makes a Broker drop requests that have waited longer than
// d for a worker of their service (default DefaultRequestTTL; 0: they wait
// as long as it takes). A client that retries after its timeout has given
// up on the old request anyway.
func WithRequestTTL(d time.Duration) Option {
	return func(c *config) error { return c.SetRequestTTL(d) }
}

// WithMaxDeliveries sets how many workers a Broker gives one request to,
// when workers die holding it, before dropping it (default
// DefaultMaxDeliveries): a request that kills every worker it meets is not
// passed around for ever.
func WithMaxDeliveries(n int) Option {
	return func(c *config) error { return c.SetMaxDeliveries(n) }
}

// WithLogger sets where a Broker or Worker logs workers coming and going
// and protocol errors (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { return c.SetLogger(l) }
}

// WithSocketOptions passes options to every socket the Broker, Worker or
// Client creates (high-water marks, ZMTP heartbeats, security, a logger…);
// they come after the pattern's own, so they may override its linger.
func WithSocketOptions(opts ...sockets.Option) Option {
	return func(c *config) error { return c.AddSocketOptions(opts...) }
}
