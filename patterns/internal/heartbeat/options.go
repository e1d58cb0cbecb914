package heartbeat

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/zmqkit/zmqkit/patterns/internal/options"
	"github.com/zmqkit/zmqkit/patterns/reliable"
	"github.com/zmqkit/zmqkit/sockets"
)

// The option types below are sealed (their methods are unexported), so
// only this package makes options, and typed by role: a constructor takes
// the interface of its role, and an option accepted by several roles has a
// type implementing each of theirs. Passing a worker option to a client is
// then a compile error rather than an option silently ignored. The public
// packages name these interfaces with type aliases and wrap each
// constructor in a function carrying their own documentation and defaults.

// BrokerOption configures a broker.
type BrokerOption interface{ applyBroker(*Config) error }

// WorkerOption configures a worker.
type WorkerOption interface{ applyWorker(*Config) error }

// ClientOption configures a client.
type ClientOption interface{ applyClient(*Config) error }

// BrokerWorkerOption configures a broker or a worker: the two ends of the
// heartbeat.
type BrokerWorkerOption interface {
	BrokerOption
	WorkerOption
}

// Option configures a broker, a worker or a client.
type Option interface {
	BrokerOption
	WorkerOption
	ClientOption
}

// One type per role; an option for several roles embeds several of them.
type (
	forBroker func(*Config) error
	forWorker func(*Config) error
	forClient func(*Config) error
)

func (f forBroker) applyBroker(c *Config) error { return f(c) }
func (f forWorker) applyWorker(c *Config) error { return f(c) }
func (f forClient) applyClient(c *Config) error { return f(c) }

type forBrokerWorker struct {
	forBroker
	forWorker
}

type forAll struct {
	forBroker
	forWorker
	forClient
}

// Broker returns defaults with opts applied, finished.
func Broker(defaults Config, opts []BrokerOption) (Config, error) {
	return build(defaults, opts, BrokerOption.applyBroker)
}

// Worker returns defaults with opts applied, finished.
func Worker(defaults Config, opts []WorkerOption) (Config, error) {
	return build(defaults, opts, WorkerOption.applyWorker)
}

// Client returns defaults with opts applied, finished.
func Client(defaults Config, opts []ClientOption) (Config, error) {
	return build(defaults, opts, ClientOption.applyClient)
}

func build[O any](c Config, opts []O, apply func(O, *Config) error) (Config, error) {
	if err := options.Apply(&c, opts, apply); err != nil {
		return c, err
	}
	c.Finish()
	return c, nil
}

// WithHeartbeat is the option of SetHeartbeat.
func WithHeartbeat(interval time.Duration, liveness int) BrokerWorkerOption {
	f := func(c *Config) error { return c.SetHeartbeat(interval, liveness) }
	return forBrokerWorker{f, f}
}

// WithReconnect is the option of SetReconnect.
func WithReconnect(initial, max time.Duration) WorkerOption {
	return forWorker(func(c *Config) error { return c.SetReconnect(initial, max) })
}

// WithRetry is the option of SetRetry.
func WithRetry(timeout time.Duration, attempts int) ClientOption {
	return forClient(func(c *Config) error { return c.SetRetry(timeout, attempts) })
}

// WithIdentity is the option of SetIdentity.
func WithIdentity(id string) WorkerOption {
	return forWorker(func(c *Config) error { return c.SetIdentity(id) })
}

// WithMaxQueue is the option of SetMaxQueue.
func WithMaxQueue(n int) BrokerOption {
	return forBroker(func(c *Config) error { return c.SetMaxQueue(n) })
}

// WithRequestTTL is the option of SetRequestTTL.
func WithRequestTTL(d time.Duration) BrokerOption {
	return forBroker(func(c *Config) error { return c.SetRequestTTL(d) })
}

// WithMaxDeliveries is the option of SetMaxDeliveries.
func WithMaxDeliveries(n int) BrokerOption {
	return forBroker(func(c *Config) error { return c.SetMaxDeliveries(n) })
}

// WithLogger is the option of SetLogger.
func WithLogger(l *slog.Logger) BrokerWorkerOption {
	f := func(c *Config) error { return c.SetLogger(l) }
	return forBrokerWorker{f, f}
}

// WithSocketOptions is the option of AddSocketOptions.
func WithSocketOptions(opts ...sockets.Option) Option {
	f := func(c *Config) error { return c.AddSocketOptions(opts...) }
	return forAll{f, f, f}
}

// LazyPirate is a client's configuration as options for
// reliable.NewRawClient: its retries and the user's socket options.
func (c *Config) LazyPirate() []reliable.Option {
	return []reliable.Option{
		reliable.WithTimeout(c.Timeout), reliable.WithTries(c.Attempts),
		reliable.WithSocketOptions(c.SockOpts...),
	}
}

// NoReply makes err, from a reliable client, match noReply as well when it
// matches reliable.ErrNoReply.
func NoReply(err, noReply error) error {
	if errors.Is(err, reliable.ErrNoReply) {
		return fmt.Errorf("%w: %w", noReply, err)
	}
	return err
}
