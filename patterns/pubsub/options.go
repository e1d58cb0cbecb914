package pubsub

import (
	"fmt"
	"time"

	"github.com/zmqkit/zmqkit/patterns/internal/options"
	"github.com/zmqkit/zmqkit/sockets"
)

// ErrBadOption is matched by the error a constructor returns for an option
// value out of range. It is sockets.ErrBadOption: one test serves every
// zmqkit package.
var ErrBadOption = sockets.ErrBadOption

// Options are typed by role: NewPublisher takes PublisherOptions, NewCache
// CacheOptions, NewSubscriber SubscriberOptions and NewReplica
// ReplicaOptions. An option several roles accept implements each of their
// interfaces; giving a role an option it would ignore does not compile.
type (
	// PublisherOption configures a Publisher.
	PublisherOption interface{ applyPublisher(*config) error }
	// CacheOption configures a Cache.
	CacheOption interface{ applyCache(*config) error }
	// SubscriberOption configures a Subscriber.
	SubscriberOption interface{ applySubscriber(*config) error }
	// ReplicaOption configures a Replica.
	ReplicaOption interface{ applyReplica(*config) error }
	// CacheSubscriberOption configures a Cache or a Subscriber.
	CacheSubscriberOption interface {
		CacheOption
		SubscriberOption
	}
	// Option configures a Publisher, a Cache, a Subscriber or a Replica.
	Option interface {
		PublisherOption
		CacheOption
		SubscriberOption
		ReplicaOption
	}
)

type (
	forPublisher  func(*config) error
	forCache      func(*config) error
	forSubscriber func(*config) error
	forReplica    func(*config) error
)

func (f forPublisher) applyPublisher(c *config) error   { return f(c) }
func (f forCache) applyCache(c *config) error           { return f(c) }
func (f forSubscriber) applySubscriber(c *config) error { return f(c) }
func (f forReplica) applyReplica(c *config) error       { return f(c) }

func forCacheSubscriber(f func(*config) error) CacheSubscriberOption {
	return struct {
		forCache
		forSubscriber
	}{f, f}
}

func forAll(f func(*config) error) Option {
	return struct {
		forPublisher
		forCache
		forSubscriber
		forReplica
	}{f, f, f, f}
}

type config struct {
	sockOpts        []sockets.Option
	replay          bool
	heartbeat       time.Duration
	maxLag          time.Duration
	clock           func() time.Time
	snapshotTimeout time.Duration
	maxBuffer       int
	maxTopics       int
	subscribe       []string
	onResync        func(error)
	onUpdate        any // func(Update[T]) for the Replica's T
}

// Defaults.
const (
	// DefaultHeartbeat is how often a running Publisher sends a heartbeat.
	DefaultHeartbeat = time.Second
	// DefaultSnapshotTimeout is how long a Replica waits for a snapshot
	// before asking again.
	DefaultSnapshotTimeout = 2 * time.Second
	// DefaultMaxBuffer is how many updates a Replica holds while it waits
	// for a snapshot.
	DefaultMaxBuffer = 1 << 16
	// DefaultMaxTopics bounds the topics a Cache remembers and a Subscriber
	// tracks per publisher.
	DefaultMaxTopics = 1 << 20
	// publisherLinger is the linger of the sockets that send: a publisher
	// loses messages to slow subscribers anyway, so Close need not wait long.
	publisherLinger = time.Second
)

// newConfig returns the defaults with opts applied by apply, the role's
// method.
func newConfig[O any](opts []O, apply func(O, *config) error) (config, error) {
	c := config{
		replay:          true,
		heartbeat:       DefaultHeartbeat,
		clock:           time.Now,
		snapshotTimeout: DefaultSnapshotTimeout,
		maxBuffer:       DefaultMaxBuffer,
		maxTopics:       DefaultMaxTopics,
	}
	return c, options.Apply(&c, opts, apply)
}

// WithSocketOptions passes options to the socket underneath: the XPUB of a
// Publisher or of a Cache's downstream side, the SUB of a Subscriber or a
// Replica. They apply after this package's defaults (a linger of one second
// for the XPUB, zero for the others).
func WithSocketOptions(opts ...sockets.Option) Option {
	return forAll(func(c *config) error { c.sockOpts = append(c.sockOpts, opts...); return nil })
}

// WithReplay turns the last-value cache of a Publisher on or off (default
// on): when on, each new subscription is answered at once with the latest
// value of every topic it matches.
func WithReplay(on bool) PublisherOption {
	return forPublisher(func(c *config) error { c.replay = on; return nil })
}

// WithHeartbeat sets how often a running Publisher sends a heartbeat (0:
// never). Heartbeats let subscribers notice loss at the end of a burst and
// lag while nothing else is published. Default DefaultHeartbeat.
func WithHeartbeat(d time.Duration) PublisherOption {
	return forPublisher(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: heartbeat %v < 0", ErrBadOption, d)
		}
		c.heartbeat = d
		return nil
	})
}

// WithMaxLag makes a Subscriber report ErrBehind when a message (or
// heartbeat) is older than d on arrival: the subscriber is reading too
// slowly. It is measured against the publisher's clock, so the clocks of
// both hosts must agree to well within d. Default 0: not checked.
func WithMaxLag(d time.Duration) SubscriberOption {
	return forSubscriber(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: max lag %v < 0", ErrBadOption, d)
		}
		c.maxLag = d
		return nil
	})
}

// WithClock sets the clock a Subscriber measures lag with (default
// time.Now); for tests.
func WithClock(now func() time.Time) SubscriberOption {
	return forSubscriber(func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrBadOption)
		}
		c.clock = now
		return nil
	})
}

// WithSubscribe subscribes a Subscriber to prefix from the start.
func WithSubscribe(prefix string) SubscriberOption {
	return forSubscriber(func(c *config) error { c.subscribe = append(c.subscribe, prefix); return nil })
}

// WithSnapshotTimeout sets how long a Replica waits for a snapshot before
// asking again. Default DefaultSnapshotTimeout.
func WithSnapshotTimeout(d time.Duration) ReplicaOption {
	return forReplica(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: snapshot timeout %v <= 0", ErrBadOption, d)
		}
		c.snapshotTimeout = d
		return nil
	})
}

// WithMaxBuffer bounds the updates a Replica holds while it waits for a
// snapshot; past it the Replica drops them and asks for a newer snapshot.
// Default DefaultMaxBuffer.
func WithMaxBuffer(n int) ReplicaOption {
	return forReplica(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: max buffer %d <= 0", ErrBadOption, n)
		}
		c.maxBuffer = n
		return nil
	})
}

// WithMaxTopics bounds the topics a Cache remembers (further topics are
// forwarded but not cached, and counted) and the topics per publisher a
// Subscriber tracks sequences for (past it, it forgets one at random).
// Default DefaultMaxTopics.
func WithMaxTopics(n int) CacheSubscriberOption {
	return forCacheSubscriber(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: max topics %d <= 0", ErrBadOption, n)
		}
		c.maxTopics = n
		return nil
	})
}

// WithOnResync sets a function a Replica calls, from Run's goroutine, each
// time it throws its state away and asks for a snapshot, with the reason:
// an error matching ErrLoss (a gap in the sequence), ErrRestarted (a new
// publisher instance) or ErrSnapshotTimeout. It is not called for the first
// snapshot.
func WithOnResync(f func(reason error)) ReplicaOption {
	return forReplica(func(c *config) error { c.onResync = f; return nil })
}

// WithOnUpdate sets a function a Replica[T] calls, from Run's goroutine,
// after it applies each live update (not for snapshots). While it runs the
// Replica reads nothing: a slow function makes a slow replica, which the
// sequence numbers then reveal.
func WithOnUpdate[T any](f func(Update[T])) ReplicaOption {
	return forReplica(func(c *config) error { c.onUpdate = f; return nil })
}
