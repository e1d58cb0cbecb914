package reliable

import (
	"time"

	"github.com/zmqkit/zmqkit/patterns/internal/options"
	"github.com/zmqkit/zmqkit/sockets"
)

// Option configures a Client or a Freelance. Both roles take every option,
// so there is one option type; the other patterns type theirs by role.
type Option func(*config) error

type config struct {
	timeout   time.Duration
	tries     int
	heartbeat time.Duration
	onRetry   func(try int, err error)
	sockOpts  []sockets.Option
}

// Defaults, as in the guide's Lazy Pirate.
const (
	// DefaultTimeout is how long one try waits for its reply.
	DefaultTimeout = 2500 * time.Millisecond
	// DefaultTries is how many tries a call makes (Freelance: at least one
	// per server).
	DefaultTries = 3
)

func newConfig(opts []Option) (config, error) {
	c := config{timeout: DefaultTimeout}
	return c, options.Apply(&c, opts, Option.apply)
}

func (o Option) apply(c *config) error { return o(c) }

var bad = options.Bad

// WithTimeout sets how long each try waits for its reply (default
// DefaultTimeout). A call that gets no reply takes about tries × timeout.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return bad("timeout %v <= 0", d)
		}
		c.timeout = d
		return nil
	}
}

// WithTries sets how many tries a call makes, the first included, before it
// returns ErrNoReply (default DefaultTries; for Freelance, at least the
// number of servers).
func WithTries(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return bad("tries %d < 1", n)
		}
		c.tries = n
		return nil
	}
}

// WithHeartbeat sends a ZMTP PING every ivl on each connection and drops a
// connection that stays silent for 2×ivl, so a server that vanished without
// closing its connection (a crashed host, a pulled cable) is noticed
// without waiting for a request to time out. Off by default.
func WithHeartbeat(ivl time.Duration) Option {
	return func(c *config) error {
		if ivl <= 0 {
			return bad("heartbeat %v <= 0", ivl)
		}
		c.heartbeat = ivl
		return nil
	}
}

// WithOnRetry calls f after each failed try that will be followed by
// another, with the number of the try that failed (from 1) and why. It runs
// in the calling goroutine and must not block.
func WithOnRetry(f func(try int, err error)) Option {
	return func(c *config) error { c.onRetry = f; return nil }
}

// WithSocketOptions passes options to the sockets underneath, after the
// pattern's own (so they win): security, reconnect interval, HWMs, a logger.
func WithSocketOptions(opts ...sockets.Option) Option {
	return func(c *config) error { c.sockOpts = append(c.sockOpts, opts...); return nil }
}

// socketOptions are the options of every socket this package makes: Close
// drops unsent requests at once (they are stale by then), then the
// heartbeat, then the caller's.
func (c *config) socketOptions(own ...sockets.Option) []sockets.Option {
	opts := append([]sockets.Option{sockets.WithLinger(0)}, own...)
	if c.heartbeat > 0 {
		opts = append(opts, sockets.WithHeartbeat(c.heartbeat, c.heartbeat, 0))
	}
	return append(opts, c.sockOpts...)
}
