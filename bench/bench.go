// Package bench measures zmqkit's throughput and latency the way users run
// it: sender and receiver in separate processes (a device in a third), Go's
// default GC, default socket options. Beside it, in the same run and
// alternated within each cell, it measures native libzmq (a small C
// program of ours, compiled at bench time) and a raw Go stream over the
// same transport: the ceiling.
//
// Every cell is the median of several runs with their spread; every
// throughput sample carries sequence numbers and checks what arrived, so a
// run that loses messages reports the loss beside its rate. In-process
// figures exist for inproc, and for tcp/ipc only as a labelled variant.
package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Patterns, in the order a run measures them.
var Patterns = []string{"pushpull", "pubsub", "dealerrouter", "reqrep", "streamer", "forwarder", "queue"}

// Transports zmqkit can be measured over.
var Transports = []string{"tcp", "ipc", "inproc", "ws"}

// DefaultSizes are the message sizes of a default run.
var DefaultSizes = []int{128, 1024, 10240}

// DefaultTransports are those of a default run (ipc on request).
var DefaultTransports = []string{"tcp", "inproc"}

// Config says what to measure.
type Config struct {
	Patterns   []string // default: all
	Transports []string // default: DefaultTransports
	Sizes      []int    // bytes; default DefaultSizes; at least 8 (sequence number)
	Runs       int      // samples per cell; default 3
	Count      int      // messages per throughput sample; 0: by size (CountFor)
	Trips      int      // round trips per latency sample; default 3000
	// Duration bounds an in-process sample (inproc, and InProcess rows);
	// default 300ms.
	Duration time.Duration
	// Baselines adds the raw Go stream and native libzmq rows.
	Baselines bool
	// NoNative leaves the libzmq C rows out of the baselines.
	NoNative bool
	// InProcess adds, for tcp and ipc, zmqkit with both sides in this
	// process: labelled, as it is not how users run it.
	InProcess bool
	// SearchSteps bounds each PUB/SUB rate search (default 7; negative: no search).
	SearchSteps int
	// SearchSubs are the subscriber counts searched (default 1 and 10).
	SearchSubs []int
	// SearchWarmup is how long the publisher of each search step sends
	// uncounted messages at the step's rate before the counted ones, so
	// that a step measures what a running publisher sustains, not the
	// first milliseconds of two new processes (default 100ms; negative:
	// none).
	SearchWarmup time.Duration
	// Command starts a bench child: default this executable with "bench
	// child" (the zmqkit CLI). A test binary passes itself; its TestMain
	// must call ChildMain when IsChild.
	Command []string
	// NativeCache is where the compiled C anchor is kept; default
	// os.UserCacheDir()/zmqkit/bench.
	NativeCache string
	// Progress, if set, is called before each sample starts.
	Progress func(done, total int, label string)
}

// Row is one sample: one run of one system in one cell.
type Row struct {
	System    string  `json:"system"`    // zmqkit, libzmq 4.3.x (C), raw Go stream, …
	Pattern   string  `json:"pattern"`   // pushpull, reqrep, …
	Transport string  `json:"transport"` // tcp, ipc, inproc
	Size      int     `json:"size"`      // payload bytes
	Subs      int     `json:"subs,omitempty"`
	Processes int     `json:"processes,omitempty"` // 0: in the bench's own process
	Run       int     `json:"run"`
	Sent      uint64  `json:"sent"`
	Received  uint64  `json:"received"`
	Lost      uint64  `json:"lost"`
	Reordered uint64  `json:"reordered"`
	SendRate  float64 `json:"send_msgs_per_s"`
	RecvRate  float64 `json:"recv_msgs_per_s"`
	SendMBps  float64 `json:"send_mb_per_s"`
	RecvMBps  float64 `json:"recv_mb_per_s"`
	// CPUPerMsg is user+system CPU time of every process of the sample
	// (start-up included) per message received, in nanoseconds.
	CPUPerMsg float64 `json:"cpu_ns_per_msg"`
	RSSSend   int64   `json:"rss_send_bytes,omitempty"` // peak RSS of each side's process
	RSSRecv   int64   `json:"rss_recv_bytes,omitempty"`
	RSSDevice int64   `json:"rss_device_bytes,omitempty"`
	// Latency rows (reqrep): round trips, microseconds.
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

// CountFor is the default number of messages per throughput sample: about
// 128 MB, between 10 000 and 1 000 000 messages, so that a sample lasts
// about half a second or more here. Shorter ones (0.2 s at 128 B) were
// dominated by start-up and swung by tens of percent from run to run.
func CountFor(size int) int { return min(max(128<<20/size, 10000), 1_000_000) }

func (c *Config) normalize() error {
	if len(c.Patterns) == 0 {
		c.Patterns = Patterns
	}
	if len(c.Transports) == 0 {
		c.Transports = DefaultTransports
	}
	if len(c.Sizes) == 0 {
		c.Sizes = DefaultSizes
	}
	if c.Runs <= 0 {
		c.Runs = 3
	}
	if c.Trips <= 0 {
		c.Trips = 3000
	}
	if c.Duration <= 0 {
		c.Duration = 300 * time.Millisecond
	}
	if c.SearchSteps == 0 {
		c.SearchSteps = 7
	}
	if c.SearchWarmup == 0 {
		c.SearchWarmup = 100 * time.Millisecond
	}
	if len(c.SearchSubs) == 0 {
		c.SearchSubs = []int{1, 10}
	}
	for _, p := range c.Patterns {
		if !slices.Contains(Patterns, p) {
			return fmt.Errorf("unknown pattern %q (want %s)", p, strings.Join(Patterns, ", "))
		}
	}
	for _, t := range c.Transports {
		if !slices.Contains(Transports, t) {
			return fmt.Errorf("unknown transport %q (want %s)", t, strings.Join(Transports, ", "))
		}
	}
	for _, s := range c.Sizes {
		if s < 8 || s > 64<<20 {
			return fmt.Errorf("size %d out of range (8 B to 64 MiB)", s)
		}
	}
	for _, n := range c.SearchSubs {
		if n < 1 || n > 100 {
			return fmt.Errorf("%d subscribers: want 1 to 100", n)
		}
	}
	if c.Count < 0 {
		return fmt.Errorf("count %d is negative", c.Count)
	}
	if len(c.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("cannot start a second process: %w", err)
		}
		c.Command = []string{exe, "bench", "child"}
	}
	return nil
}

func (c *Config) count(size int) int {
	if c.Count > 0 {
		return c.Count
	}
	return CountFor(size)
}

// job is one sample to measure.
type job struct {
	label string
	run   func(ctx context.Context, rep *Report)
}

// Run measures what cfg asks for. It stops early, returning what it has
// and ctx.Err(), when ctx ends. The caller may add rows (other brokers)
// to the report before writing it; Summarize then builds the cells.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	rep := &Report{Machine: machineNow(), Settings: settingsOf(cfg)}
	r := &runner{cfg: cfg}
	defer r.cleanup()
	twoProc := slices.ContainsFunc(cfg.Transports, func(t string) bool { return t != "inproc" })
	if cfg.Baselines && !cfg.NoNative && twoProc {
		n, err := BuildNative(ctx, cfg.NativeCache)
		if err != nil {
			rep.Notes = append(rep.Notes, "libzmq C: absent: "+err.Error())
		} else {
			r.native = n
			rep.Machine.Libzmq = n.Version
		}
	}
	jobs := r.plan(rep)
	for i, j := range jobs {
		if err := ctx.Err(); err != nil {
			rep.Machine.LoadEnd = loadAverage()
			return rep, err
		}
		if cfg.Progress != nil {
			cfg.Progress(i, len(jobs), j.label)
		}
		j.run(ctx, rep)
	}
	if cfg.Progress != nil {
		cfg.Progress(len(jobs), len(jobs), "")
	}
	rep.Machine.LoadEnd = loadAverage()
	rep.Summarize()
	return rep, nil
}

// plan lists the samples: for each cell, runs × systems, the systems
// alternating within the cell (zmqkit, libzmq C, raw, zmqkit, …), so that
// a disturbance spreads over all of them rather than hitting one.
func (r *runner) plan(rep *Report) []job {
	cfg := r.cfg
	var jobs []job
	add := func(label string, f func(context.Context) Row, run int) {
		jobs = append(jobs, job{label, func(ctx context.Context, rep *Report) {
			row := f(ctx)
			row.Run = run
			rep.Samples = append(rep.Samples, row)
		}})
	}
	for _, p := range cfg.Patterns {
		for _, tr := range cfg.Transports {
			for _, size := range cfg.Sizes {
				type sys struct {
					name string
					f    func(context.Context) Row
				}
				var systems []sys
				count := cfg.count(size)
				switch {
				case tr == "inproc":
					systems = append(systems, sys{SystemInProcess, func(ctx context.Context) Row { return r.inProcess(ctx, p, tr, size) }})
				case p == "reqrep":
					systems = append(systems, sys{"zmqkit", func(ctx context.Context) Row { return r.roundTrips(ctx, "zmqkit", p, tr, size, cfg.Trips) }})
					if r.nativeOver(tr) {
						systems = append(systems, sys{r.native.Label(), func(ctx context.Context) Row { return r.native.latency(ctx, r, p, tr, size, cfg.Trips) }})
					}
					if cfg.Baselines && tr != "ws" {
						systems = append(systems, sys{SystemRaw, func(ctx context.Context) Row { return r.roundTrips(ctx, "raw", p, tr, size, cfg.Trips) }})
					}
				default:
					systems = append(systems, sys{"zmqkit", func(ctx context.Context) Row { return r.throughput(ctx, "zmqkit", p, tr, size, count, 0, 0) }})
					if r.nativeOver(tr) && p == "pushpull" {
						systems = append(systems, sys{r.native.Label(), func(ctx context.Context) Row { return r.native.throughput(ctx, r, tr, size, count) }})
					}
					if r.nativeOver(tr) && p == "pubsub" {
						systems = append(systems, sys{r.native.Label(), func(ctx context.Context) Row { return r.throughput(ctx, "native", p, tr, size, count, 0, 0) }})
					}
					if p == "dealerrouter" {
						// Round trips too: DEALER→ROUTER, the other request-reply pair.
						rt := PatternDealerRouterTrips
						systems = append(systems, sys{"zmqkit " + rt, func(ctx context.Context) Row { return r.roundTrips(ctx, "zmqkit", rt, tr, size, cfg.Trips) }})
						if r.nativeOver(tr) {
							systems = append(systems, sys{r.native.Label() + " " + rt, func(ctx context.Context) Row { return r.native.latency(ctx, r, rt, tr, size, cfg.Trips) }})
						}
					}
					if cfg.Baselines && p == "pushpull" && tr != "ws" {
						systems = append(systems, sys{SystemRaw, func(ctx context.Context) Row { return r.throughput(ctx, "raw", p, tr, size, count, 0, 0) }})
						systems = append(systems, sys{SystemRawAlloc, func(ctx context.Context) Row { return r.throughput(ctx, "rawalloc", p, tr, size, count, 0, 0) }})
					}
				}
				if cfg.InProcess && tr != "inproc" {
					systems = append(systems, sys{SystemInProcess, func(ctx context.Context) Row { return r.inProcess(ctx, p, tr, size) }})
				}
				for run := 1; run <= cfg.Runs; run++ {
					for _, s := range systems {
						add(fmt.Sprintf("%s %s/%s %s run %d", s.name, p, tr, sizeLabel(size), run), s.f, run)
					}
				}
			}
		}
	}
	if slices.Contains(cfg.Patterns, "pubsub") && cfg.SearchSteps > 0 {
		for _, tr := range cfg.Transports {
			if tr == "inproc" {
				continue
			}
			for _, size := range cfg.Sizes {
				for _, subs := range cfg.SearchSubs {
					systems := []string{"zmqkit"}
					if r.nativeOver(tr) {
						systems = append(systems, "native")
					}
					// Each system is searched cfg.Runs times, the systems
					// alternated; the cell reports the median.
					cells := make([]*Search, len(systems))
					for i, system := range systems {
						cells[i] = r.newSearch(system, tr, size, subs)
					}
					for run := 1; run <= cfg.Runs; run++ {
						for i, system := range systems {
							cell, last := cells[i], run == cfg.Runs
							jobs = append(jobs, job{fmt.Sprintf("%s pubsub/%s %s: highest rate for %d subscribers, run %d", r.label(system), tr, sizeLabel(size), subs, run),
								func(ctx context.Context, rep *Report) {
									r.search(ctx, system, tr, size, subs, cell)
									if last {
										rep.Searches = append(rep.Searches, *cell)
									}
								}})
						}
					}
				}
			}
		}
	}
	return jobs
}

// nativeOver reports whether libzmq C is measured over tr: Debian's
// libzmq has no ws (DRAFT only), and the raw baseline is a byte stream.
func (r *runner) nativeOver(tr string) bool { return r.native != nil && tr != "ws" }

// inProcess measures zmqkit with both sides in this process.
func (r *runner) inProcess(ctx context.Context, pattern, tr string, size int) Row {
	row := measure(ctx, pattern, tr, size, limits{d: r.cfg.Duration, n: r.cfg.count(size)})
	row.System = SystemInProcess
	return row
}

// Machine describes where a run took place.
type Machine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	GOGC       string `json:"gogc"`       // from the environment; "" is Go's default (100)
	GOMEMLIMIT string `json:"gomemlimit"` // from the environment; "" is none
	LoadStart  string `json:"load_average_start"`
	LoadEnd    string `json:"load_average_end"`
	Libzmq     string `json:"libzmq_version,omitempty"`
}

func machineNow() Machine {
	return Machine{
		Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH,
		GOGC: os.Getenv("GOGC"), GOMEMLIMIT: os.Getenv("GOMEMLIMIT"),
		LoadStart: loadAverage(),
	}
}

// loadAverage is the 1, 5 and 15 minute load averages where the system
// publishes them (Linux), else "unavailable".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unavailable"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unavailable"
	}
	return strings.Join(f[:3], " ")
}

// Settings records what a run was asked to do.
type Settings struct {
	Patterns    []string `json:"patterns"`
	Transports  []string `json:"transports"`
	Sizes       []int    `json:"sizes"`
	Runs        int      `json:"runs"`
	Counts      []int    `json:"counts"` // messages per throughput sample, per size
	Trips       int      `json:"trips"`
	DurationMs  int64    `json:"in_process_duration_ms"`
	InProcess   bool     `json:"in_process_variant"`
	Baselines   bool     `json:"baselines"`
	SearchSteps int      `json:"search_steps"`
	SearchSubs  []int    `json:"search_subscribers"`
	// SearchWarmupMs: uncounted messages at the step's rate before each
	// search step's counted ones, in milliseconds (0: none).
	SearchWarmupMs int64 `json:"search_warmup_ms"`
}

func settingsOf(c Config) Settings {
	s := Settings{Patterns: c.Patterns, Transports: c.Transports, Sizes: c.Sizes, Runs: c.Runs, Trips: c.Trips,
		DurationMs: c.Duration.Milliseconds(), InProcess: c.InProcess, Baselines: c.Baselines,
		SearchSteps: c.SearchSteps, SearchSubs: c.SearchSubs, SearchWarmupMs: max(c.SearchWarmup.Milliseconds(), 0)}
	for _, size := range c.Sizes {
		s.Counts = append(s.Counts, c.count(size))
	}
	return s
}

func mb(rate float64, size int) float64 { return rate * float64(size) / 1e6 }
