package pirate

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

var defaults = heartbeat.Config{
	Heartbeat: DefaultHeartbeat, Liveness: DefaultLiveness,
	Reconnect: DefaultReconnect, ReconnectMax: DefaultReconnectMax,
	Timeout: DefaultTimeout, Attempts: DefaultAttempts,
	MaxQueue: DefaultMaxQueue, MaxDeliveries: DefaultMaxDeliveries,
}

// WithHeartbeat sets the PPP heartbeat interval and the number of
// intervals a peer may miss before it is taken for dead (default
// DefaultHeartbeat × DefaultLiveness). Broker and workers must agree.
func WithHeartbeat(interval time.Duration, liveness int) BrokerWorkerOption {
	return heartbeat.WithHeartbeat(interval, liveness)
}

// WithReconnect sets a Worker's wait before it connects again to a broker
// it lost: initial, doubled after each attempt that hears nothing, up to
// max (default DefaultReconnect, DefaultReconnectMax).
func WithReconnect(initial, max time.Duration) WorkerOption {
	return heartbeat.WithReconnect(initial, max)
}

// WithRetry sets a Client's wait for each reply and its attempts in all
// before it reports ErrNoReply (default DefaultTimeout, DefaultAttempts).
func WithRetry(timeout time.Duration, attempts int) ClientOption {
	return heartbeat.WithRetry(timeout, attempts)
}

// WithIdentity sets the routing id a Worker announces (default: none, the
// broker makes one up per connection). The broker's backend hands an id
// over to the newest connection that claims it, so a restarted worker may
// reuse its name.
func WithIdentity(id string) WorkerOption { return heartbeat.WithIdentity(id) }

// WithMaxQueue bounds how many requests a Broker holds while no worker is
// free (default DefaultMaxQueue; 0: no bound). When the queue is full the
// broker stops reading its frontend, so clients' sends wait at their
// high-water mark rather than the broker's memory growing.
func WithMaxQueue(n int) BrokerOption { return heartbeat.WithMaxQueue(n) }

// WithRequestTTL makes a Broker drop requests that have waited longer than
// d for a worker (default 0: they wait as long as it takes). A client that
// retries after its timeout has given up on the old request anyway.
func WithRequestTTL(d time.Duration) BrokerOption { return heartbeat.WithRequestTTL(d) }

// WithMaxDeliveries bounds how many workers, dying while they hold it, one
// request is handed to by a Broker before it is dropped (default
// DefaultMaxDeliveries), so a poison request does not go round for ever.
func WithMaxDeliveries(n int) BrokerOption { return heartbeat.WithMaxDeliveries(n) }

// WithLogger sets where a Broker or Worker logs workers coming and going
// (default: nowhere).
func WithLogger(l *slog.Logger) BrokerWorkerOption { return heartbeat.WithLogger(l) }

// WithSocketOptions passes options to each socket a Broker, Worker or
// Client makes (high-water marks, ZMTP heartbeats, security, a logger…),
// after the pattern's own, so they may override its linger.
func WithSocketOptions(opts ...sockets.Option) Option {
	return heartbeat.WithSocketOptions(opts...)
}
