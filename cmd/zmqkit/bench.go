package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zmqkit/zmqkit/bench"
	"github.com/zmqkit/zmqkit/sockets"
)

const benchSynopsis = `Usage: zmqkit bench [--runs N] [--sizes 128,1024,10240] [--patterns P,...] [--transport T,...]
         [--count N] [--trips N] [--duration D] [--quick] [--in-process] [--no-baselines]
         [--search-steps N] [--search-warmup D] [--subscribers 1,10] [--format table|csv|json] [--redis ADDR] [--amqp URL]
       zmqkit bench local-thr BIND SIZE COUNT     receive COUNT messages (libzmq's local_thr)
       zmqkit bench remote-thr CONNECT SIZE COUNT send COUNT messages (libzmq's remote_thr)
       zmqkit bench local-lat BIND SIZE COUNT     echo COUNT requests (libzmq's local_lat)
       zmqkit bench remote-lat CONNECT SIZE COUNT time COUNT round trips (libzmq's remote_lat)

Measures zmqkit as users run it: over tcp and ipc the sender and the receiver
are separate processes (a device a third), with Go's default GC and default
socket options. Beside it, alternated within each cell: libzmq itself (a
small C program compiled here with cc against libzmq's headers; absent, with
the reason, without them) and a raw Go stream over the same transport (the
ceiling), also with a new buffer per message sent (the floor Go's GC sets
for any Go sender). Each cell is the median of --runs runs, with min–max.
PUB/SUB: the flood figure, and the highest publish rate at which every
subscriber (1 and 10) receives every message, each step of that search
counted after --search-warmup at its rate (a running publisher, not two
processes' first milliseconds). inproc is measured in one
process, as it is used; --in-process adds that variant for tcp/ipc, labelled.
Patterns: pushpull, pubsub, dealerrouter, reqrep, streamer, forwarder, queue.
Transports: tcp, ipc, inproc, ws (default tcp,inproc; ws is zmqkit only, libzmq
has no ws outside DRAFT builds). Defaults take ~2½ minutes.

--redis and --amqp need a build with -tags brokers (their clients are heavy).

GOGC and GOMEMLIMIT from the environment apply to every Go process of the run
(the first line of the output says which).

The perf tools take libzmq's arguments and print its result lines, with
default options (HWMs of 1000) and a new message per send.
`

func runBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "local-thr", "remote-thr", "local-lat", "remote-lat":
			return report(stderr, "bench "+args[0], perfTool(ctx, args[0], args[1:], stdout))
		case "child": // one side of a measurement, started by zmqkit bench itself
			if !bench.IsChild() {
				return report(stderr, "bench child", usagef("bench child is started by zmqkit bench itself (%s unset)", bench.ChildEnv))
			}
			return bench.ChildMain()
		}
	}
	return report(stderr, "bench", benchTable(ctx, args, stdout, stderr))
}

func perfTool(ctx context.Context, name string, args []string, stdout io.Writer) error {
	if len(args) != 3 {
		return usagef("want %s ENDPOINT SIZE COUNT", name)
	}
	size, err := strconv.Atoi(args[1])
	if err != nil || size <= 0 {
		return usagef("SIZE %q: want a positive whole number", args[1])
	}
	count, err := strconv.Atoi(args[2])
	if err != nil || count <= 0 {
		return usagef("COUNT %q: want a positive whole number", args[2])
	}
	ep := args[0]
	switch name {
	case "local-thr":
		err = bench.LocalThr(ctx, stdout, ep, size, count)
	case "remote-thr":
		err = bench.RemoteThr(ctx, ep, size, count)
	case "local-lat":
		err = bench.LocalLat(ctx, ep, size, count)
	default:
		err = bench.RemoteLat(ctx, stdout, ep, size, count)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // interrupted
	}
	return endpointCause(ep, err)
}

// endpointCause words a perf tool's endpoint failure like the other commands.
func endpointCause(ep string, err error) error {
	if err == nil {
		return nil
	}
	if oe, ok := errors.AsType[*sockets.OpError](err); ok && oe.Endpoint != "" {
		return endpointError("endpoint", ep, err)
	}
	return err
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func benchTable(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench")
	runs := fs.Int("runs", 3, "runs per cell; a cell shows their median and min–max")
	count := fs.Int("count", 0, "messages per throughput sample (0: about 48 MB, 10 000 to 400 000 messages)")
	trips := fs.Int("trips", 3000, "round trips per latency sample")
	duration := fs.Duration("duration", 300*time.Millisecond, "time per in-process sample (inproc, --in-process)")
	sizes := fs.String("sizes", "128,1024,10240", "message sizes in bytes, comma-separated")
	patterns := fs.String("patterns", strings.Join(bench.Patterns, ","), "patterns to measure, comma-separated")
	transports := fs.String("transport", strings.Join(bench.DefaultTransports, ","), "transports, comma-separated: tcp, ipc, inproc, ws")
	quick := fs.Bool("quick", false, "a smoke run: 1 run per cell, 20 000 messages, 1 000 trips, 4 search steps")
	inProcess := fs.Bool("in-process", false, "also measure tcp/ipc with both sides in this process (labelled; not how users run it)")
	searchSteps := fs.Int("search-steps", 7, "paced runs per PUB/SUB rate search (0: no search)")
	subscribers := fs.String("subscribers", "1,10", "subscriber counts of the PUB/SUB rate search")
	searchWarmup := fs.Duration("search-warmup", 100*time.Millisecond, "uncounted messages at each search step's rate before the counted ones (0: none, the step starts cold)")
	format := fs.String("format", "table", "output: table, csv or json")
	noBase := fs.Bool("no-baselines", false, "skip the raw-stream and libzmq C baselines")
	redisAddr := fs.String("redis", "", "also measure Redis lists at `addr` (host:port), client in this process (-tags brokers)")
	amqpURL := fs.String("amqp", "", "also measure RabbitMQ at `url` (amqp://user:pass@host:port/), client in this process (-tags brokers)")
	if err := parseFlags(fs, benchSynopsis, args, stdout); err != nil {
		return err
	}
	cfg := bench.Config{
		Patterns:     splitList(*patterns),
		Transports:   splitList(*transports),
		Runs:         *runs,
		Count:        *count,
		Trips:        *trips,
		Duration:     *duration,
		Baselines:    !*noBase,
		InProcess:    *inProcess,
		SearchSteps:  *searchSteps,
		SearchWarmup: *searchWarmup,
	}
	if *searchWarmup <= 0 {
		cfg.SearchWarmup = -1
	}
	if *searchSteps == 0 {
		cfg.SearchSteps = -1
	}
	if *quick {
		cfg.Runs, cfg.Count, cfg.Trips, cfg.SearchSteps = 1, 20000, 1000, 4
	}
	for _, s := range splitList(*sizes) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return usagef("--sizes: %q is not a whole number", s)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	for _, s := range splitList(*subscribers) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return usagef("--subscribers: %q is not a whole number", s)
		}
		cfg.SearchSubs = append(cfg.SearchSubs, n)
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return usagef("--format %q: want table, csv or json", *format)
	}
	if (*redisAddr != "" || *amqpURL != "") && !brokersBuiltIn {
		return usagef("--redis and --amqp need a zmqkit built with -tags brokers (go run -tags brokers ./cmd/zmqkit bench …)")
	}
	if *duration <= 0 || *count < 0 || *runs < 0 || *trips < 0 || *searchSteps < 0 {
		return usagef("--duration must be positive and --runs, --count, --trips, --search-steps not negative")
	}
	if isTerminal(stderr) {
		cfg.Progress = func(done, total int, label string) {
			if label == "" {
				fmt.Fprintf(stderr, "\r\033[K")
				return
			}
			fmt.Fprintf(stderr, "\r\033[K[%d/%d] %s", done+1, total, label)
		}
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil && rep == nil {
		return usagef("%v", err)
	}
	if err != nil && errors.Is(err, context.Canceled) && len(rep.Samples) == 0 {
		return nil
	}
	if *format != "table" { // the table has these; a script's output does not
		fmt.Fprintln(stderr, bench.GCLine(rep.Machine))
		for _, n := range rep.Notes {
			fmt.Fprintln(stderr, n)
		}
	}
	if *redisAddr != "" && ctx.Err() == nil {
		if cfg.Progress != nil {
			cfg.Progress(0, 1, "redis "+*redisAddr)
		}
		rep.Samples = append(rep.Samples, redisRows(ctx, *redisAddr, cfg.Sizes, cfg.Count, cfg.Duration)...)
	}
	if *amqpURL != "" && ctx.Err() == nil {
		if cfg.Progress != nil {
			cfg.Progress(0, 1, "rabbitmq")
		}
		rep.Samples = append(rep.Samples, amqpRows(ctx, *amqpURL, cfg.Sizes, cfg.Count, cfg.Duration)...)
	}
	if cfg.Progress != nil {
		cfg.Progress(1, 1, "")
	}
	rep.Summarize()
	switch *format {
	case "csv":
		return bench.WriteCSV(stdout, rep)
	case "json":
		return bench.WriteJSON(stdout, rep)
	}
	return bench.WriteTable(stdout, rep)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
