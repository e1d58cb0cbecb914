package pipeline

import (
	"time"

	"github.com/zmqkit/zmqkit/patterns/internal/options"
	"github.com/zmqkit/zmqkit/sockets"
)

// Options are typed by role: NewVentilator takes VentilatorOptions and
// NewWorker WorkerOptions. An Option is accepted by both; giving a role an
// option meant for the other does not compile.
type (
	// VentilatorOption configures a Ventilator.
	VentilatorOption interface{ applyVentilator(*config) error }
	// WorkerOption configures a Worker.
	WorkerOption interface{ applyWorker(*config) error }
	// Option configures a Ventilator or a Worker.
	Option interface {
		VentilatorOption
		WorkerOption
	}
)

type (
	forVentilator func(*config) error
	forWorker     func(*config) error
	forBoth       struct {
		forVentilator
		forWorker
	}
)

func (f forVentilator) applyVentilator(c *config) error { return f(c) }
func (f forWorker) applyWorker(c *config) error         { return f(c) }
func both(f func(*config) error) Option                 { return forBoth{f, f} }

type config struct {
	taskTimeout time.Duration
	maxAttempts int
	prefetch    int
	discard     bool
	taskHWM     int
	resultHWM   int
	name        string
	concurrency int
	linger      time.Duration
	sockOpts    []sockets.Option
}

// Defaults.
const (
	// DefaultTaskTimeout is how long a result may take before the task is
	// re-issued.
	DefaultTaskTimeout = 30 * time.Second
	// DefaultMaxAttempts is how many times a task is sent before it is
	// given up.
	DefaultMaxAttempts = 3
	// DefaultPrefetch is how many tasks may be outstanding per connected
	// worker.
	DefaultPrefetch = 16
	// DefaultWorkerLinger is how long Worker.Close waits to deliver results
	// already queued (a lost result only costs a re-issue).
	DefaultWorkerLinger = time.Second
)

func defaultConfig() config {
	return config{
		taskTimeout: DefaultTaskTimeout,
		maxAttempts: DefaultMaxAttempts,
		prefetch:    DefaultPrefetch,
		taskHWM:     1000,
		resultHWM:   1000,
		concurrency: 1,
		linger:      DefaultWorkerLinger,
	}
}

// newConfig returns the defaults with opts applied by apply, the role's
// method.
func newConfig[O any](opts []O, apply func(O, *config) error) (config, error) {
	c := defaultConfig()
	return c, options.Apply(&c, opts, apply)
}

// WithTaskTimeout sets how long the Ventilator waits for a task's result
// before sending the task again (Ventilator; default DefaultTaskTimeout).
// The clock starts when the task is handed to the socket, so the timeout
// must cover the time a task may wait in a worker's queue as well as the
// work itself: with WithPrefetch(n), n+1 times the longest task.
func WithTaskTimeout(d time.Duration) VentilatorOption {
	return forVentilator(func(c *config) error {
		if d <= 0 {
			return options.Bad("task timeout %v <= 0", d)
		}
		c.taskTimeout = d
		return nil
	})
}

// WithMaxAttempts sets how many times a task is sent, the first included,
// before it is settled with ErrGaveUp (Ventilator; default
// DefaultMaxAttempts).
func WithMaxAttempts(n int) VentilatorOption {
	return forVentilator(func(c *config) error {
		if n < 1 {
			return options.Bad("max attempts %d < 1", n)
		}
		c.maxAttempts = n
		return nil
	})
}

// WithPrefetch bounds the tasks outstanding (submitted, not settled) to n
// per connected worker: Submit waits while there are that many, or while
// no worker is connected (Ventilator; default DefaultPrefetch). PUSH deals
// tasks round-robin whatever a worker's load, so this is what keeps a
// worker's queue, and hence a task's wait before it runs, short: about n
// tasks deep. Larger n buys throughput when tasks are tiny and the network
// far; the task timeout must then be longer.
func WithPrefetch(n int) VentilatorOption {
	return forVentilator(func(c *config) error {
		if n < 1 {
			return options.Bad("prefetch %d < 1", n)
		}
		c.prefetch = n
		return nil
	})
}

// WithDiscardResults makes the Ventilator count results without keeping
// them for Next and Drain: for producers that only need Wait (Ventilator).
func WithDiscardResults() VentilatorOption {
	return forVentilator(func(c *config) error { c.discard = true; return nil })
}

// WithTaskHWM sets the high-water mark of the task path: the Ventilator's
// send HWM per worker and the Worker's receive HWM (both; default 1000, as
// libzmq).
func WithTaskHWM(n int) Option {
	return both(func(c *config) error {
		if n < 0 {
			return options.Bad("task HWM %d < 0", n)
		}
		c.taskHWM = n
		return nil
	})
}

// WithResultHWM sets the high-water mark of the result path: the Worker's
// send HWM and the Ventilator's receive HWM per worker (both; default
// 1000, as libzmq).
func WithResultHWM(n int) Option {
	return both(func(c *config) error {
		if n < 0 {
			return options.Bad("result HWM %d < 0", n)
		}
		c.resultHWM = n
		return nil
	})
}

// WithName sets the name a Worker reports with each result (Worker;
// default host/pid/sequence).
func WithName(name string) WorkerOption {
	return forWorker(func(c *config) error { c.name = name; return nil })
}

// WithConcurrency makes Worker.Run handle up to n tasks at once, each in
// its own goroutine sharing the worker's sockets (Worker; default 1).
func WithConcurrency(n int) WorkerOption {
	return forWorker(func(c *config) error {
		if n < 1 {
			return options.Bad("concurrency %d < 1", n)
		}
		c.concurrency = n
		return nil
	})
}

// WithLinger sets how long Worker.Close waits to deliver queued results
// (Worker; default DefaultWorkerLinger). The Ventilator always closes at
// once: what it has not sent is abandoned with it.
func WithLinger(d time.Duration) WorkerOption {
	return forWorker(func(c *config) error {
		if d < 0 {
			return options.Bad("linger %v < 0", d)
		}
		c.linger = d
		return nil
	})
}

// WithSocketOptions passes options to the sockets underneath (both), after
// the pattern's own, so they win: security, heartbeats (which detect a
// worker that vanished without closing its connection), reconnect
// intervals, a logger.
func WithSocketOptions(opts ...sockets.Option) Option {
	return both(func(c *config) error { c.sockOpts = append(c.sockOpts, opts...); return nil })
}

func (c *config) socketOptions(own ...sockets.Option) []sockets.Option {
	return append(own, c.sockOpts...)
}
