// Package bench measures zmqkit's throughput and latency, next to a raw-TCP
// ceiling (and, built with -tags libzmq, libzmq itself) in the same run, so
// that every comparison is a ratio taken on one machine.
//
// Every throughput row carries sequence numbers and checks what arrived: a
// run that loses messages reports the loss beside its rate, never a rate
// inflated by it.
package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Patterns, in the order a run measures them.
var Patterns = []string{"pushpull", "pubsub", "dealerrouter", "reqrep", "streamer", "forwarder", "queue"}

// Transports zmqkit can be measured over.
var Transports = []string{"tcp", "ipc", "inproc"}

// DefaultSizes are the seeds' message sizes.
var DefaultSizes = []int{128, 512, 1024, 10240}

// Config says what to measure.
type Config struct {
	Patterns   []string      // default: all
	Transports []string      // default: all
	Sizes      []int         // bytes; default DefaultSizes; at least 8 (sequence number)
	Duration   time.Duration // per row; default 300ms
	Count      int           // per row, at most (0: as many as Duration allows)
	Baselines  bool          // add raw TCP (and libzmq when built in) rows
	// Progress, if set, is called before each row starts.
	Progress func(done, total int, label string)
}

// Row is one measurement.
type Row struct {
	System    string  `json:"system"`    // zmqkit, rawtcp, libzmq, …
	Pattern   string  `json:"pattern"`   // pushpull, reqrep, …
	Transport string  `json:"transport"` // tcp, ipc, inproc
	Size      int     `json:"size"`      // payload bytes
	Sent      uint64  `json:"sent"`
	Received  uint64  `json:"received"`
	Lost      uint64  `json:"lost"`
	Reordered uint64  `json:"reordered"`
	SendRate  float64 `json:"send_msgs_per_s"`
	RecvRate  float64 `json:"recv_msgs_per_s"`
	SendMBps  float64 `json:"send_mb_per_s"`
	RecvMBps  float64 `json:"recv_mb_per_s"`
	CPUPerMsg float64 `json:"cpu_ns_per_msg"` // process CPU time (user+system) per received message
	// Latency rows (reqrep, dealerrouter, queue): round trips, microseconds.
	Latency *Latency `json:"latency,omitempty"`
	Err     string   `json:"error,omitempty"`
}

// Latency summarises round-trip times in microseconds.
type Latency struct {
	Count                         int64
	P50, P90, P99, P999, Max, Avg float64
}

// Delivered is the share of sent messages that arrived, in percent.
func (r Row) Delivered() float64 {
	if r.Sent == 0 {
		return 0
	}
	return 100 * float64(r.Received) / float64(r.Sent)
}

// Variant names the row in a table: pattern/transport.
func (r Row) Variant() string { return r.Pattern + "/" + r.Transport }

func (c *Config) normalize() error {
	if len(c.Patterns) == 0 {
		c.Patterns = Patterns
	}
	if len(c.Transports) == 0 {
		c.Transports = Transports
	}
	if len(c.Sizes) == 0 {
		c.Sizes = DefaultSizes
	}
	if c.Duration <= 0 {
		c.Duration = 300 * time.Millisecond
	}
	for _, p := range c.Patterns {
		if !slices.Contains(Patterns, p) {
			return fmt.Errorf("bench: unknown pattern %q (want %s)", p, strings.Join(Patterns, ", "))
		}
	}
	for _, t := range c.Transports {
		if !slices.Contains(Transports, t) {
			return fmt.Errorf("bench: unknown transport %q (want %s)", t, strings.Join(Transports, ", "))
		}
	}
	for _, s := range c.Sizes {
		if s < 8 || s > 64<<20 {
			return fmt.Errorf("bench: size %d out of range (8 B to 64 MiB)", s)
		}
	}
	return nil
}

// job is one row to measure.
type job struct {
	label string
	run   func(ctx context.Context) Row
}

// Run measures what cfg asks for and returns the rows in order. It stops
// early, returning what it has and ctx.Err(), when ctx ends.
func Run(ctx context.Context, cfg Config) ([]Row, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	var jobs []job
	lim := limits{d: cfg.Duration, n: cfg.Count}
	if cfg.Baselines {
		for _, size := range cfg.Sizes {
			jobs = append(jobs, job{fmt.Sprintf("rawtcp pushpull %dB", size), func(ctx context.Context) Row {
				return rawTCPThroughput(ctx, size, lim)
			}})
		}
		for _, size := range cfg.Sizes {
			jobs = append(jobs, job{fmt.Sprintf("rawtcp reqrep %dB", size), func(ctx context.Context) Row {
				return rawTCPLatency(ctx, size, lim)
			}})
		}
		jobs = append(jobs, libzmqJobs(cfg.Sizes, lim)...)
	}
	for _, p := range cfg.Patterns {
		for _, tr := range cfg.Transports {
			for _, size := range cfg.Sizes {
				jobs = append(jobs, job{fmt.Sprintf("zmqkit %s/%s %dB", p, tr, size), func(ctx context.Context) Row {
					return measure(ctx, p, tr, size, lim)
				}})
			}
		}
	}
	rows := make([]Row, 0, len(jobs))
	for i, j := range jobs {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		if cfg.Progress != nil {
			cfg.Progress(i, len(jobs), j.label)
		}
		rows = append(rows, j.run(ctx))
	}
	if cfg.Progress != nil {
		cfg.Progress(len(jobs), len(jobs), "")
	}
	return rows, nil
}

// limits bound one row: by time, and by count when n > 0.
type limits struct {
	d time.Duration
	n int
}

func (l limits) more(i int, start time.Time) bool {
	if l.n > 0 && i >= l.n {
		return false
	}
	// Checking the clock every 64 messages keeps it off the hot path.
	return i&63 != 0 || time.Since(start) < l.d
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mb(rate float64, size int) float64 { return rate * float64(size) / 1e6 }
