//go:build interop

package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
)

// The anchor builds with the system's cc and libzmq (CI installs
// libzmq3-dev: without it this fails), is cached, and reports libzmq's
// real version.
func TestNativeAnchorBuildsAndIsCached(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	n, err := bench.BuildNative(ctx, dir)
	require.NoError(t, err, "cc and libzmq's headers (libzmq3-dev) are needed")
	assert.Regexp(t, `^\d+\.\d+\.\d+$`, n.Version)
	assert.Regexp(t, `^libzmq \d+\.\d+\.\d+ \(C\)$`, n.Label())
	fi, err := os.Stat(n.Path)
	require.NoError(t, err)
	again, err := bench.BuildNative(ctx, dir)
	require.NoError(t, err)
	assert.Equal(t, n.Path, again.Path)
	fi2, err := os.Stat(again.Path)
	require.NoError(t, err)
	assert.Equal(t, fi.ModTime(), fi2.ModTime(), "the second build is the cached file")
}

func freeTCP(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return "tcp://" + ln.Addr().String()
}

// The anchor and zmqkit's perf tools pair either way round, with the
// same result lines.
func TestNativeAnchorPairsWithOurPerfTools(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := bench.BuildNative(ctx, t.TempDir())
	require.NoError(t, err)
	anchor := func(mode, ep string, size, count int) *exec.Cmd {
		return exec.CommandContext(ctx, n.Path, mode, ep, fmt.Sprint(size), fmt.Sprint(count))
	}
	thrOut := `(?s)^message size: 256 \[B\]\nmessage count: 30000\nmean throughput: \d+ \[msg/s\]\nmean throughput: \d+\.\d{3} \[Mb/s\]\n$`
	latOut := `(?s)^message size: 64 \[B\]\nroundtrip count: 300\naverage latency: \d+\.\d{3} \[us\]\n$`
	// The anchor's remote_lat adds two lines after libzmq's: the trips' p50 and p99.
	anchorLatOut := `(?s)^message size: 64 \[B\]\nroundtrip count: 300\naverage latency: \d+\.\d{3} \[us\]\np50 roundtrip: \d+\.\d{3} \[us\]\np99 roundtrip: \d+\.\d{3} \[us\]\n$`

	ep := freeTCP(t) // C local_thr, zmqkit remote-thr
	c := anchor("local_thr", ep, 256, 30000)
	var cout bytes.Buffer
	c.Stdout = &cout
	require.NoError(t, c.Start())
	require.NoError(t, bench.RemoteThr(ctx, ep, 256, 30000))
	require.NoError(t, c.Wait())
	assert.Regexp(t, thrOut, cout.String())

	ep = freeTCP(t) // zmqkit local-thr, C remote_thr
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- bench.LocalThr(ctx, &out, ep, 256, 30000) }()
	require.NoError(t, anchor("remote_thr", ep, 256, 30000).Run())
	require.NoError(t, <-done)
	assert.Regexp(t, thrOut, out.String())

	ep = freeTCP(t) // C local_lat, zmqkit remote-lat
	c = anchor("local_lat", ep, 64, 300)
	require.NoError(t, c.Start())
	out.Reset()
	require.NoError(t, bench.RemoteLat(ctx, &out, ep, 64, 300))
	require.NoError(t, c.Wait())
	assert.Regexp(t, latOut, out.String())

	ep = freeTCP(t) // zmqkit local-lat, C remote_lat
	go func() { done <- bench.LocalLat(ctx, ep, 64, 300) }()
	b, err := anchor("remote_lat", ep, 64, 300).Output()
	require.NoError(t, err)
	require.NoError(t, <-done)
	assert.Regexp(t, anchorLatOut, string(b))
}

// With the anchor, a run has libzmq C rows beside zmqkit's, ratios against
// them, and a PUB/SUB search for libzmq C too.
func TestRunWithNativeRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{
		Patterns: []string{"pushpull", "pubsub", "reqrep", "dealerrouter"}, Transports: []string{"tcp"}, Sizes: []int{128},
		Runs: 1, Count: 5000, Trips: 200, Baselines: true, SearchSteps: 2, SearchSubs: []int{2},
		Command: self(t), NativeCache: t.TempDir(),
	})
	require.NoError(t, err)
	require.NotEmpty(t, rep.Machine.Libzmq)
	label := "libzmq " + rep.Machine.Libzmq + " (C)"
	native := map[string]bool{}
	for _, r := range rep.Samples {
		if r.System == label {
			assert.Empty(t, r.Err, r.Pattern)
			assert.Equal(t, 2, r.Processes)
			assert.Positive(t, r.RecvRate, r.Pattern)
			if bench.UsageAvailable {
				assert.Positive(t, r.CPUPerMsg, r.Pattern)
				assert.Positive(t, r.RSSRecv, r.Pattern)
			}
			native[r.Pattern] = true
		}
	}
	assert.Equal(t, map[string]bool{"pushpull": true, "pubsub": true, "reqrep": true, bench.PatternDealerRouterTrips: true}, native)
	for _, r := range rep.Samples {
		if r.Pattern == bench.PatternDealerRouterTrips || (r.Pattern == "reqrep" && r.System == label) {
			require.NotNil(t, r.Latency, "%s %s", r.System, r.Pattern)
			assert.Positive(t, r.Latency.P50, "%s %s: p50 of the trips", r.System, r.Pattern)
			assert.LessOrEqual(t, r.Latency.P50, r.Latency.P99, "%s %s", r.System, r.Pattern)
		}
	}
	for _, c := range rep.Cells {
		if c.System == bench.SystemZmqkit && (c.Pattern == "pushpull" || c.Pattern == "reqrep" || c.Pattern == bench.PatternDealerRouterTrips) {
			assert.Positive(t, c.VsLibzmq, "%s: a ratio against libzmq C", c.Pattern)
		}
	}
	var searched bool
	for _, s := range rep.Searches {
		if s.System == label {
			searched = true
			for _, st := range s.Steps {
				assert.Empty(t, st.Err)
			}
		}
	}
	assert.True(t, searched, "libzmq C has a PUB/SUB search")
	assert.Empty(t, rep.Notes)
}

// A search step's warm-up messages go out at the step's rate but are not
// counted: a step delivers at most what it counted as sent, for zmqkit and
// for libzmq C alike.
func TestSearchWarmupIsNotCounted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{
		Patterns: []string{"pubsub"}, Transports: []string{"tcp"}, Sizes: []int{128},
		Runs: 1, Count: 2000, Trips: 100, Baselines: true, SearchSteps: 1, SearchSubs: []int{1},
		SearchWarmup: 100 * time.Millisecond, Command: self(t), NativeCache: t.TempDir(),
	})
	require.NoError(t, err)
	assert.EqualValues(t, 100, rep.Settings.SearchWarmupMs)
	systems := map[string]bool{}
	for _, s := range rep.Searches {
		require.Len(t, s.Steps, 1, s.System)
		st := s.Steps[0]
		assert.Empty(t, st.Err, s.System)
		assert.Positive(t, st.Delivered, s.System)
		// 10 000 warm-up probes at the 100k msgs/s the search starts at:
		// counted, they would put delivery far above 100 %.
		assert.LessOrEqual(t, st.Delivered, 100.0, s.System)
		systems[s.System] = true
	}
	assert.Len(t, systems, 2, "zmqkit and libzmq C searched")
}
