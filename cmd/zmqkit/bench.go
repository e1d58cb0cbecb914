package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zmqkit/zmqkit/bench"
	"github.com/zmqkit/zmqkit/bench/baseline"
	"github.com/zmqkit/zmqkit/bench/plot"
	"github.com/zmqkit/zmqkit/sockets"
)

const benchSynopsis = `Usage: zmqkit bench [--duration D] [--count N] [--sizes 128,1024] [--patterns P,...] [--transport T,...]
         [--format table|csv|json] [--plot FILE.svg|FILE.png] [--no-baselines]
         [--redis ADDR] [--amqp URL]
       zmqkit bench local-thr BIND SIZE COUNT     receive COUNT messages (libzmq's local_thr)
       zmqkit bench remote-thr CONNECT SIZE COUNT send COUNT messages (libzmq's remote_thr)
       zmqkit bench local-lat BIND SIZE COUNT     echo COUNT requests (libzmq's local_lat)
       zmqkit bench remote-lat CONNECT SIZE COUNT time COUNT round trips (libzmq's remote_lat)

Measures throughput (send and receive rates, loss, CPU per message) and
round-trip latency of zmqkit's patterns, with a raw-TCP ceiling (and libzmq,
when built with -tags libzmq) in the same run. Patterns: pushpull, pubsub,
dealerrouter, reqrep, streamer, forwarder, queue. Transports: tcp, ipc,
inproc. With no flags it measures everything in about a minute.

Unless GOGC or GOMEMLIMIT is set, it runs with GOGC=off and GOMEMLIMIT=256MiB
(Go's defaults when a size is over 64 KiB): see the first line of its output.
`

func runBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "local-thr", "remote-thr", "local-lat", "remote-lat":
			return report(stderr, "bench "+args[0], perfTool(ctx, args[0], args[1:], stdout))
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
	benchGC(size)
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
	duration := fs.Duration("duration", 300*time.Millisecond, "time per measurement")
	count := fs.Int("count", 0, "messages per measurement, at most (0: as many as --duration allows)")
	sizes := fs.String("sizes", "128,512,1024,10240", "message sizes in bytes, comma-separated")
	patterns := fs.String("patterns", strings.Join(bench.Patterns, ","), "patterns to measure, comma-separated")
	transports := fs.String("transport", strings.Join(bench.Transports, ","), "transports, comma-separated: tcp, ipc, inproc")
	format := fs.String("format", "table", "output: table, csv or json")
	plotFile := fs.String("plot", "", "also draw msgs/s and MB/s against size into `file` (.svg or .png)")
	noBase := fs.Bool("no-baselines", false, "skip the raw-TCP (and libzmq) baselines")
	redisAddr := fs.String("redis", "", "also measure Redis lists at `addr` (host:port), as the seeds did")
	amqpURL := fs.String("amqp", "", "also measure RabbitMQ at `url` (amqp://user:pass@host:port/)")
	if err := parseFlags(fs, benchSynopsis, args, stdout); err != nil {
		return err
	}
	cfg := bench.Config{
		Patterns:   splitList(*patterns),
		Transports: splitList(*transports),
		Duration:   *duration,
		Count:      *count,
		Baselines:  !*noBase,
	}
	for _, s := range splitList(*sizes) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return usagef("--sizes: %q is not a whole number", s)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return usagef("--format %q: want table, csv or json", *format)
	}
	if *plotFile != "" && !strings.HasSuffix(*plotFile, ".svg") && !strings.HasSuffix(*plotFile, ".png") {
		return usagef("--plot %q: want a .svg or .png file", *plotFile)
	}
	if *duration <= 0 || *count < 0 {
		return usagef("--duration must be positive and --count not negative")
	}
	gc := benchGC(slices.Max(append([]int{0}, cfg.Sizes...)))
	if *format != "table" {
		fmt.Fprintln(stderr, gc)
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
	rows, err := bench.Run(ctx, cfg)
	if err != nil && len(rows) == 0 {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return usagef("%v", err)
	}
	if *redisAddr != "" && ctx.Err() == nil {
		if cfg.Progress != nil {
			cfg.Progress(0, 1, "redis "+*redisAddr)
		}
		rows = append(rows, baseline.Redis(ctx, *redisAddr, cfg.Sizes, cfg.Count, cfg.Duration)...)
	}
	if *amqpURL != "" && ctx.Err() == nil {
		if cfg.Progress != nil {
			cfg.Progress(0, 1, "rabbitmq")
		}
		rows = append(rows, baseline.AMQP(ctx, *amqpURL, cfg.Sizes, cfg.Count, cfg.Duration)...)
	}
	if cfg.Progress != nil {
		cfg.Progress(1, 1, "")
	}
	switch *format {
	case "csv":
		err = bench.WriteCSV(stdout, rows)
	case "json":
		err = bench.WriteJSON(stdout, rows)
	default:
		fmt.Fprintln(stdout, gc)
		err = bench.WriteTable(stdout, rows)
	}
	if err != nil {
		return err
	}
	if *plotFile != "" {
		if err := plot.File(*plotFile, rows); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "plot written to %s\n", *plotFile)
	}
	return nil
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
