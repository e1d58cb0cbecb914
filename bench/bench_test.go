package bench_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTinyRunOfEveryPattern(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress []string
	rows, err := bench.Run(ctx, bench.Config{
		Transports: []string{"tcp", "ipc", "inproc"},
		Sizes:      []int{64, 1000},
		Count:      500,
		Duration:   time.Second,
		Baselines:  true,
		Progress: func(done, total int, label string) {
			progress = append(progress, label)
		},
	})
	require.NoError(t, err)
	base := 4 // rawtcp pushpull and reqrep at two sizes
	if bench.LibzmqBuiltIn {
		base += 4
	}
	require.Len(t, rows, base+len(bench.Patterns)*3*2)
	assert.Len(t, progress, len(rows)+1)
	for _, r := range rows {
		name := r.System + " " + r.Variant()
		assert.Empty(t, r.Err, name)
		assert.Positive(t, r.Sent, name)
		assert.Positive(t, r.RecvRate, name)
		assert.Positive(t, r.CPUPerMsg, name)
		switch r.Pattern {
		case "pubsub", "forwarder":
			assert.Equal(t, r.Sent, r.Received+r.Lost, "%s: every message is received or counted lost", name)
		default:
			assert.Equal(t, r.Sent, r.Received, name)
			assert.Zero(t, r.Lost, name)
			assert.Zero(t, r.Reordered, name)
		}
		if r.Pattern == "reqrep" || (r.System == "zmqkit" && (r.Pattern == "dealerrouter" || r.Pattern == "queue")) {
			require.NotNil(t, r.Latency, name)
			assert.Positive(t, r.Latency.P50, name)
			assert.LessOrEqual(t, r.Latency.P50, r.Latency.P99, name)
			assert.LessOrEqual(t, r.Latency.P99, r.Latency.Max, name)
		}
		if r.Pattern != "reqrep" && r.Lost == 0 {
			assert.LessOrEqual(t, r.Sent, uint64(500), "Count bounds a row")
		}
	}

	var table bytes.Buffer
	require.NoError(t, bench.WriteTable(&table, rows))
	out := table.String()
	for _, want := range []string{"Throughput", "Round trip", "rawtcp", "pushpull/tcp", "queue/inproc", "64 B", "1000 B", "p99.9", "Bandwidth received", "MB/s"} {
		assert.Contains(t, out, want)
	}

	var c bytes.Buffer
	require.NoError(t, bench.WriteCSV(&c, rows))
	recs, err := csv.NewReader(&c).ReadAll()
	require.NoError(t, err)
	assert.Len(t, recs, len(rows)+1)
	assert.Equal(t, "system", recs[0][0])

	var j bytes.Buffer
	require.NoError(t, bench.WriteJSON(&j, rows))
	var back []bench.Row
	require.NoError(t, json.Unmarshal(j.Bytes(), &back))
	assert.Equal(t, rows, back)
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []bench.Config{
		{Patterns: []string{"nope"}},
		{Transports: []string{"udp"}},
		{Sizes: []int{4}},
	} {
		_, err := bench.Run(ctx, cfg)
		assert.Error(t, err)
	}
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
