package bench_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
	"go.uber.org/goleak"
)

// The two-process bench starts this test binary as its children: each one
// finds its role in the environment and runs it instead of the tests.
func TestMain(m *testing.M) {
	if bench.IsChild() {
		os.Exit(bench.ChildMain())
	}
	goleak.VerifyTestMain(m)
}

// self starts this test binary as a bench child. Under -race, a process
// sleeps a second at exit (for late race reports) unless told otherwise:
// the children have nothing running by then.
func self(t *testing.T) []string {
	exe, err := os.Executable()
	require.NoError(t, err)
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return []string{exe}
}

func TestTinyTwoProcessRunOfEveryPattern(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress []string
	rep, err := bench.Run(ctx, bench.Config{
		Transports:  []string{"tcp", "ipc", "inproc"},
		Sizes:       []int{64},
		Runs:        2,
		Count:       2000,
		Trips:       100,
		Duration:    time.Second,
		Baselines:   true,
		NoNative:    true,
		SearchSteps: 2,
		SearchSubs:  []int{1, 3},
		Command:     self(t),
		Progress: func(done, total int, label string) {
			progress = append(progress, label)
			t.Log(time.Now().Format("15:04:05.000"), label)
		},
	})
	require.NoError(t, err)
	// 7 patterns × 3 transports × 2 runs, plus raw pushpull (with and
	// without a new buffer per message), raw reqrep and zmqkit's
	// DEALER→ROUTER round trips over tcp and ipc, 2 runs each.
	require.Len(t, rep.Samples, 7*3*2+4*2*2)
	// One label a sample, one a search run (2 runs each), and the final call.
	assert.Len(t, progress, len(rep.Samples)+2*len(rep.Searches)+1)
	for _, r := range rep.Samples {
		name := r.System + " " + r.Variant()
		require.Empty(t, r.Err, name)
		assert.Positive(t, r.Sent, name)
		assert.Positive(t, r.RecvRate, name)
		switch {
		case r.Transport == "inproc":
			assert.Zero(t, r.Processes, "%s: inproc is measured in one process", name)
			assert.Equal(t, bench.SystemInProcess, r.System)
		case r.Pattern == "streamer" || r.Pattern == "forwarder" || r.Pattern == "queue":
			assert.Equal(t, 3, r.Processes, "%s: sender, device and receiver each in a process", name)
		default:
			assert.Equal(t, 2, r.Processes, name)
		}
		if r.Processes > 0 && bench.UsageAvailable {
			// Only the children's exit status carries these.
			assert.Positive(t, r.RSSSend, "%s: the sending process's peak RSS", name)
			assert.Positive(t, r.RSSRecv, "%s: the receiving process's peak RSS", name)
			assert.Positive(t, r.CPUPerMsg, name)
			if r.Processes == 3 {
				assert.Positive(t, r.RSSDevice, name)
			}
		}
		switch r.Pattern {
		case "pubsub", "forwarder":
			assert.Equal(t, r.Sent, r.Received+r.Lost, "%s: every message is received or counted lost", name)
		case "reqrep", bench.PatternDealerRouterTrips:
			require.NotNil(t, r.Latency, name)
			assert.Positive(t, r.Latency.P50, name)
			assert.LessOrEqual(t, r.Latency.P50, r.Latency.P99, name)
		default:
			assert.Equal(t, r.Sent, r.Received, name)
			assert.Zero(t, r.Lost, name)
			assert.Zero(t, r.Reordered, name)
			if r.Processes > 0 {
				assert.Equal(t, uint64(2000), r.Sent, "%s: Count sets a sample's messages", name)
			}
		}
	}
	// Searches: zmqkit only (no native), 1 and 3 subscribers, tcp and ipc.
	require.Len(t, rep.Searches, 4)
	for _, s := range rep.Searches {
		assert.NotEmpty(t, s.Steps)
		assert.Len(t, s.Bests, 2, "one search a run")
		assert.LessOrEqual(t, len(s.Steps), 2*2, "at most SearchSteps a run")
		for _, st := range s.Steps {
			assert.Empty(t, st.Err)
		}
	}
	require.NotEmpty(t, rep.Cells)
	for _, c := range rep.Cells {
		assert.Equal(t, 2, c.Runs, c.System+" "+c.Pattern)
		assert.LessOrEqual(t, c.Min, c.Median)
		assert.LessOrEqual(t, c.Median, c.Max)
	}
	var table bytes.Buffer
	require.NoError(t, bench.WriteTable(&table, rep))
	out := table.String()
	for _, want := range []string{"Go GC: ", "machine: ", "Throughput", "Round trips", bench.SystemRaw, "pushpull/ipc", "queue/inproc",
		"64 B", "PUB→SUB", "3 SUB socket(s) in 1 process", "flood: the PUB drops at its HWM by design", "p99", "MB/s"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "Errors:")
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []bench.Config{
		{Patterns: []string{"nope"}},
		{Transports: []string{"udp"}},
		{Sizes: []int{4}},
		{SearchSubs: []int{0}},
		{Count: -1},
	} {
		_, err := bench.Run(ctx, cfg)
		assert.Error(t, err)
	}
}

// A child that cannot do its part says why, and the sample carries it.
func TestChildFailureIsReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{Patterns: []string{"pushpull"}, Transports: []string{"tcp"}, Sizes: []int{64},
		Runs: 1, Count: 100, Command: []string{self(t)[0], "-no-such"}, SearchSteps: -1})
	require.NoError(t, err)
	require.Len(t, rep.Samples, 1)
	// The child is fine, as TestMain dispatches before flags: use a bad
	// executable instead to see a start failure.
	rep, err = bench.Run(ctx, bench.Config{Patterns: []string{"pushpull"}, Transports: []string{"tcp"}, Sizes: []int{64},
		Runs: 1, Count: 100, Command: []string{"/nonexistent/zmqkit"}, SearchSteps: -1})
	require.NoError(t, err)
	require.Len(t, rep.Samples, 1)
	assert.Contains(t, rep.Samples[0].Err, "/nonexistent/zmqkit")
	var table bytes.Buffer
	require.NoError(t, bench.WriteTable(&table, rep))
	assert.Contains(t, table.String(), "Errors:")
}

func TestPerfToolsTalkToEachOther(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ep := range []string{"inproc://perf-thr", "ipc://" + t.TempDir() + "/thr"} {
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- bench.LocalThr(ctx, &out, ep, 100, 20000) }()
		require.NoError(t, bench.RemoteThr(ctx, ep, 100, 20000))
		require.NoError(t, <-done)
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		require.Len(t, lines, 4)
		assert.Equal(t, "message size: 100 [B]", lines[0])
		assert.Equal(t, "message count: 20000", lines[1])
		assert.Regexp(t, `^mean throughput: \d+ \[msg/s\]$`, lines[2])
		assert.Regexp(t, `^mean throughput: \d+\.\d{3} \[Mb/s\]$`, lines[3])
	}
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- bench.LocalLat(ctx, "inproc://perf-lat", 64, 500) }()
	require.NoError(t, bench.RemoteLat(ctx, &out, "inproc://perf-lat", 64, 500))
	require.NoError(t, <-done)
	assert.Regexp(t, `(?s)^message size: 64 \[B\]\nroundtrip count: 500\naverage latency: \d+\.\d{3} \[us\]\n$`, out.String())
}

func TestCSVAndJSONCarryEverySampleAndTheMachine(t *testing.T) {
	rep := &bench.Report{
		Machine: bench.Machine{Cores: 2, GOMAXPROCS: 2, GoVersion: runtime.Version(), GOGC: "150", LoadStart: "1.00 0.50 0.25",
			LoadEnd: "1.10 0.60 0.30", Libzmq: "4.3.4"},
		Settings: bench.Settings{Runs: 2, Sizes: []int{128}, Trips: 3000, SearchSteps: 7, SearchWarmupMs: 100, Baselines: true},
		Samples: []bench.Row{
			{System: "zmqkit", Pattern: "pushpull", Transport: "tcp", Size: 128, Processes: 2, Run: 1, Sent: 10, Received: 10, RecvRate: 1000, RSSSend: 1 << 20},
			{System: "zmqkit", Pattern: "pushpull", Transport: "tcp", Size: 128, Processes: 2, Run: 2, Sent: 10, Received: 10, RecvRate: 1200},
			{System: "zmqkit", Pattern: "reqrep", Transport: "tcp", Size: 128, Processes: 2, Run: 1, Sent: 5, Received: 5, RecvRate: 50,
				Latency: &bench.Latency{Count: 5, P50: 12.5, P99: 40}},
		},
		Searches: []bench.Search{{System: "zmqkit", Transport: "tcp", Size: 128, Subs: 10, Best: 2e5,
			Steps: []bench.Step{{Rate: 1e5, Delivered: 100, Pass: true}, {Rate: 2e5, Delivered: 99.5}}}},
	}
	rep.Summarize()

	var c bytes.Buffer
	require.NoError(t, bench.WriteCSV(&c, rep))
	recs, err := csv.NewReader(&c).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+3+2, "a header, every sample, every search step")
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, name := range []string{"run", "recv_msgs_per_s", "rss_send_bytes", "rtt_p50_us", "cores", "gomaxprocs", "go_version",
		"gogc", "load_start", "load_end", "libzmq_version", "step_delivered_pct", "step_pass", "runs", "trips", "search_steps", "search_warmup_ms", "baselines"} {
		require.Contains(t, col, name)
	}
	assert.Equal(t, "2", recs[2][col["run"]])
	assert.Equal(t, "100", recs[2][col["search_warmup_ms"]])
	assert.Equal(t, "1200.00", recs[2][col["recv_msgs_per_s"]])
	assert.Equal(t, "1048576", recs[1][col["rss_send_bytes"]])
	assert.Equal(t, "12.50", recs[3][col["rtt_p50_us"]])
	assert.Equal(t, "pubsub-search", recs[5][col["pattern"]])
	assert.Equal(t, "99.50", recs[5][col["step_delivered_pct"]])
	assert.Equal(t, "false", recs[5][col["step_pass"]])
	for _, r := range recs[1:] {
		assert.Equal(t, "150", r[col["gogc"]])
		assert.Equal(t, "1.10 0.60 0.30", r[col["load_end"]])
		assert.Equal(t, "4.3.4", r[col["libzmq_version"]])
		assert.Equal(t, "2", r[col["runs"]])
		assert.Equal(t, "3000", r[col["trips"]])
		assert.Equal(t, "true", r[col["baselines"]])
		assert.Len(t, r, len(recs[0]), "every line has every column")
	}

	var j bytes.Buffer
	require.NoError(t, bench.WriteJSON(&j, rep))
	var back bench.Report
	require.NoError(t, json.Unmarshal(j.Bytes(), &back))
	assert.Equal(t, *rep, back)
	assert.Contains(t, j.String(), `"load_average_start": "1.00 0.50 0.25"`)
	require.Len(t, back.Cells, 2)
	assert.Equal(t, 1100.0, back.Cells[0].Median, "the median of 1000 and 1200")
}

// TestTinyTwoProcessRunOverWS: every pattern over ws, two (or three)
// processes, zmqkit only: no raw or libzmq rows, which have no ws.
func TestTinyTwoProcessRunOverWS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{
		Transports:  []string{"ws"},
		Sizes:       []int{64},
		Runs:        1,
		Count:       1000,
		Trips:       50,
		Duration:    time.Second,
		Baselines:   true,
		NoNative:    true,
		SearchSteps: 1,
		SearchSubs:  []int{1},
		Command:     self(t),
	})
	require.NoError(t, err)
	require.Len(t, rep.Samples, 8, "7 patterns and dealerrouter's round trips")
	for _, r := range rep.Samples {
		name := r.System + " " + r.Variant()
		require.Empty(t, r.Err, name)
		assert.Equal(t, "zmqkit", r.System, name)
		assert.Equal(t, "ws", r.Transport, name)
		assert.Positive(t, r.Sent, name)
		assert.Positive(t, r.RecvRate, name)
	}
}
