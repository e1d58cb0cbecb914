// Package heartbeat holds the machinery the Paranoid Pirate and Majordomo
// patterns share: their common options and how they are checked, a
// worker's view of its broker's liveness, the reconnect back-off, and the
// broker's housekeeping clock. Each pattern keeps its own wire format and
// its own public options, which delegate to what is here.
package heartbeat

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// Config is the configuration brokers, workers and clients of both
// patterns share. A pattern sets its defaults, applies its options (which
// call the Set methods), then calls Finish.
type Config struct {
	Heartbeat     time.Duration // interval between heartbeats
	Liveness      int           // heartbeats a peer may miss before it is taken for dead
	Reconnect     time.Duration // a worker's first wait before reconnecting
	ReconnectMax  time.Duration // the cap the wait doubles up to
	Timeout       time.Duration // a client's wait for each reply
	Attempts      int           // a client's attempts in all
	Identity      []byte        // the routing id a worker announces; nil: none
	MaxQueue      int           // requests a broker holds while no worker is free; 0: no bound
	RequestTTL    time.Duration // how long a request may wait for a worker; 0: for ever
	MaxDeliveries int           // workers one request is given to before it is dropped
	Logger        *slog.Logger  // where to log; Finish sets a discarding one if nil
	SockOpts      []sockets.Option
}

// Finish completes c once its options are applied: without a logger, c
// logs nowhere.
func (c *Config) Finish() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Window is how long a peer may stay silent before it is taken for dead.
func (c *Config) Window() time.Duration { return c.Heartbeat * time.Duration(c.Liveness) }

// SocketOptions returns extra, the pattern's own options for a socket,
// followed by the user's, so that the user's may override them.
func (c *Config) SocketOptions(extra ...sockets.Option) []sockets.Option {
	out := append([]sockets.Option(nil), extra...)
	return append(out, c.SockOpts...)
}

// DialWorker makes a worker's DEALER socket, with the configured identity
// if any, linger, and the user's socket options, and dials endpoint with
// it. It closes the socket again if the dial fails.
func (c *Config) DialWorker(endpoint string, linger time.Duration) (*sockets.Socket, error) {
	var opts []sockets.Option
	if c.Identity != nil {
		opts = append(opts, sockets.WithRoutingID(c.Identity))
	}
	sock, err := sockets.NewDealer(c.SocketOptions(append(opts, sockets.WithLinger(linger))...)...)
	if err != nil {
		return nil, err
	}
	if err := sock.Dial(endpoint); err != nil {
		sock.Close()
		return nil, err
	}
	return sock, nil
}

// SetHeartbeat sets the heartbeat interval and the liveness; both must be
// positive.
func (c *Config) SetHeartbeat(interval time.Duration, liveness int) error {
	if interval <= 0 || liveness < 1 {
		return fmt.Errorf("%w: heartbeat %v × %d", sockets.ErrBadOption, interval, liveness)
	}
	c.Heartbeat, c.Liveness = interval, liveness
	return nil
}

// SetReconnect sets the reconnect back-off: a positive initial wait and a
// cap no smaller than it.
func (c *Config) SetReconnect(initial, max time.Duration) error {
	if initial <= 0 || max < initial {
		return fmt.Errorf("%w: reconnect %v up to %v", sockets.ErrBadOption, initial, max)
	}
	c.Reconnect, c.ReconnectMax = initial, max
	return nil
}

// SetRetry sets a client's timeout per attempt and its number of attempts;
// both must be positive.
func (c *Config) SetRetry(timeout time.Duration, attempts int) error {
	if timeout <= 0 || attempts < 1 {
		return fmt.Errorf("%w: retry %v × %d", sockets.ErrBadOption, timeout, attempts)
	}
	c.Timeout, c.Attempts = timeout, attempts
	return nil
}

// SetIdentity sets a worker's routing id: 1 to 255 bytes, not starting
// with a zero byte (ZMTP reserves those).
func (c *Config) SetIdentity(id string) error {
	if len(id) == 0 || len(id) > 255 || id[0] == 0 {
		return fmt.Errorf("%w: identity must be 1-255 bytes not starting with 0", sockets.ErrBadOption)
	}
	c.Identity = []byte(id)
	return nil
}

// SetMaxQueue sets the bound on a broker's queued requests; 0 is no bound,
// a negative bound is an error.
func (c *Config) SetMaxQueue(n int) error {
	if n < 0 {
		return fmt.Errorf("%w: max queue %d < 0", sockets.ErrBadOption, n)
	}
	c.MaxQueue = n
	return nil
}

// SetRequestTTL sets how long a request may wait for a worker; 0 is for
// ever, a negative TTL is an error.
func (c *Config) SetRequestTTL(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: request TTL %v < 0", sockets.ErrBadOption, d)
	}
	c.RequestTTL = d
	return nil
}

// SetMaxDeliveries sets how many workers one request is given to; it must
// be at least 1.
func (c *Config) SetMaxDeliveries(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: max deliveries %d < 1", sockets.ErrBadOption, n)
	}
	c.MaxDeliveries = n
	return nil
}

// SetLogger sets where to log; nil until Finish means nowhere.
func (c *Config) SetLogger(l *slog.Logger) error { c.Logger = l; return nil }

// AddSocketOptions appends options for every socket made.
func (c *Config) AddSocketOptions(opts ...sockets.Option) error {
	c.SockOpts = append(c.SockOpts, opts...)
	return nil
}
