package majordomo

import (
	"log/slog"
	"time"

	"github.com/zmqkit/zmqkit/patterns/internal/heartbeat"
	"github.com/zmqkit/zmqkit/sockets"
)

// Options are typed by the role they configure: NewBroker takes
// BrokerOptions, NewWorker WorkerOptions, NewClient ClientOptions. An
// option that several roles accept implements each of their interfaces,
// and passing an option to a role that would ignore it does not compile.
type (
	// BrokerOption configures a Broker.
	BrokerOption = heartbeat.BrokerOption
	// WorkerOption configures a Worker.
	WorkerOption = heartbeat.WorkerOption
	// ClientOption configures a Client.
	ClientOption = heartbeat.ClientOption
	// BrokerWorkerOption configures a Broker or a Worker: the two ends of
	// the heartbeat.
	BrokerWorkerOption = heartbeat.BrokerWorkerOption
	// Option configures a Broker, a Worker or a Client.
	Option = heartbeat.Option
)

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

var defaults = heartbeat.Config{
	Heartbeat:     DefaultHeartbeat,
	Liveness:      DefaultLiveness,
	Reconnect:     DefaultReconnect,
	ReconnectMax:  DefaultReconnectMax,
	Timeout:       DefaultTimeout,
	Attempts:      DefaultAttempts,
	MaxQueue:      DefaultMaxQueue,
	RequestTTL:    DefaultRequestTTL,
	MaxDeliveries: DefaultMaxDeliveries,
}

// WithHeartbeat sets the heartbeat interval and how many intervals a peer
// may stay silent before it is taken for dead (default DefaultHeartbeat ×
// DefaultLiveness). Broker and workers must agree.
func WithHeartbeat(interval time.Duration, liveness int) BrokerWorkerOption {
	return heartbeat.WithHeartbeat(interval, liveness)
}

// WithReconnect sets how long a Worker waits before connecting again after
// it lost the broker: initial, doubling after each attempt that hears
// nothing from the broker, up to max (default DefaultReconnect,
// DefaultReconnectMax).
func WithReconnect(initial, max time.Duration) WorkerOption {
	return heartbeat.WithReconnect(initial, max)
}

// WithRetry sets how long a Client waits for each reply and how many
// attempts it makes in all before it reports ErrNoReply (default
// DefaultTimeout, DefaultAttempts).
func WithRetry(timeout time.Duration, attempts int) ClientOption {
	return heartbeat.WithRetry(timeout, attempts)
}

// WithIdentity sets the routing id a Worker announces (default: none, the
// broker makes one up per connection). The broker hands an id over to the
// newest connection that claims it, so a restarted worker may reuse its
// name.
func WithIdentity(id string) WorkerOption { return heartbeat.WithIdentity(id) }

// WithMaxQueue bounds how many requests a Broker holds, over all services,
// while no worker is free (default DefaultMaxQueue; 0: no bound). A request
// that finds the queue full is dropped and counted; its client times out.
func WithMaxQueue(n int) BrokerOption { return heartbeat.WithMaxQueue(n) }

// WithRequestTTL makes a Broker drop requests that have waited longer than
// d for a worker of their service (default DefaultRequestTTL; 0: they wait
// as long as it takes). A client that retries after its timeout has given
// up on the old request anyway.
func WithRequestTTL(d time.Duration) BrokerOption { return heartbeat.WithRequestTTL(d) }

// WithMaxDeliveries sets how many workers a Broker gives one request to,
// when workers die holding it, before dropping it (default
// DefaultMaxDeliveries): a request that kills every worker it meets is not
// passed around for ever.
func WithMaxDeliveries(n int) BrokerOption { return heartbeat.WithMaxDeliveries(n) }

// WithLogger sets where a Broker or Worker logs workers coming and going
// and protocol errors (default: nowhere).
func WithLogger(l *slog.Logger) BrokerWorkerOption { return heartbeat.WithLogger(l) }

// WithSocketOptions passes options to every socket the Broker, Worker or
// Client creates (high-water marks, ZMTP heartbeats, security, a logger…);
// they come after the pattern's own, so they may override its linger.
func WithSocketOptions(opts ...sockets.Option) Option {
	return heartbeat.WithSocketOptions(opts...)
}
