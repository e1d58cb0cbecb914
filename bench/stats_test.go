package bench

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpreadAndNotice(t *testing.T) {
	for _, tc := range []struct {
		vals        []float64
		med, lo, hi float64
		noisy       bool
	}{
		{nil, 0, 0, 0, false},
		{[]float64{5}, 5, 5, 5, false},
		{[]float64{120, 100, 110}, 110, 100, 120, false}, // 18 %
		{[]float64{100, 140, 110}, 110, 100, 140, true},  // 36 %
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, true},
		{[]float64{100, 100, 125}, 100, 100, 125, false}, // exactly 25 %: no notice
	} {
		med, lo, hi := spread(tc.vals)
		assert.Equal(t, []float64{tc.med, tc.lo, tc.hi}, []float64{med, lo, hi}, tc.vals)
		assert.Equal(t, tc.noisy, noisy(med, lo, hi), tc.vals)
	}
}

func sample(system, pattern string, size int, rate float64) Row {
	return Row{System: system, Pattern: pattern, Transport: "tcp", Size: size, Processes: 2, Sent: 1, Received: 1, RecvRate: rate}
}

// A zmqkit cell above the raw ceiling marks the baseline broken for that
// cell (no ratio against it); below it, the share of the ceiling; and the
// ratio against libzmq C of the same cell.
func TestBrokenBaselineAndRatios(t *testing.T) {
	lib := "libzmq 4.3.4 (C)"
	cells := cellsOf([]Row{
		sample(SystemZmqkit, "pushpull", 128, 2e6), sample(SystemZmqkit, "pushpull", 128, 2.2e6), sample(SystemZmqkit, "pushpull", 128, 1e6),
		sample(lib, "pushpull", 128, 1e6),
		sample(SystemRaw, "pushpull", 128, 4e6),
		sample(SystemZmqkit, "pushpull", 1024, 5e5),
		sample(SystemRaw, "pushpull", 1024, 4e5), // a ceiling below zmqkit: broken
		sample(SystemZmqkit, "dealerrouter", 1024, 4.5e5),
	})
	require.Len(t, cells, 6)
	byKey := map[string]Cell{}
	for _, c := range cells {
		byKey[c.System+" "+c.Pattern+" "+sizeLabel(c.Size)] = c
	}
	c := byKey["zmqkit pushpull 128 B"]
	assert.Equal(t, 3, c.Runs)
	assert.Equal(t, 2e6, c.Median)
	assert.True(t, c.Noisy, "1M–2.2M around 2M")
	assert.InDelta(t, 2.0, c.VsLibzmq, 1e-9)
	assert.InDelta(t, 0.5, c.OfCeiling, 1e-9)
	assert.False(t, c.BrokenBaseline)
	c = byKey["zmqkit pushpull 1 KiB"]
	assert.True(t, c.BrokenBaseline)
	assert.Zero(t, c.OfCeiling)
	assert.True(t, byKey["zmqkit dealerrouter 1 KiB"].BrokenBaseline, "every zmqkit pattern is held against the raw stream")

	var out bytes.Buffer
	require.NoError(t, WriteTable(&out, &Report{Settings: Settings{Runs: 3}, Cells: cells}))
	s := out.String()
	assert.Contains(t, s, "zmqkit pushpull/tcp 1 KiB: above the raw stream's figure: the raw baseline is broken for this cell")
	assert.Contains(t, s, "baseline broken")
	assert.Contains(t, s, "zmqkit pushpull/tcp 128 B: runs spread over 60% of the median (more than 25%)")
	assert.Contains(t, s, "2.00×")
	assert.Contains(t, s, "50%")
}

// The search doubles while steps pass, bisects after the first failure,
// never reports a rate that failed, and keeps to its step budget.
func TestSearchRate(t *testing.T) {
	for _, tc := range []struct {
		limit    float64 // rates up to this pass
		steps    int
		min, max float64
	}{
		{730e3, 7, 650e3, 730e3},
		{730e3, 12, 700e3, 730e3},
		{30e3, 8, 25e3, 30e3},  // below the start: halves, then bisects
		{1e12, 20, 50e6, 50e6}, // everything passes: stops at the ceiling
		{1, 5, 0, 0},           // nothing passes
	} {
		var tried []float64
		best, steps := searchRate(context.Background(), 100e3, 50e6, tc.steps, func(_ context.Context, rate float64) Step {
			tried = append(tried, rate)
			return Step{Pass: rate <= tc.limit, Delivered: min(100, 100*tc.limit/rate)}
		})
		assert.LessOrEqual(t, len(steps), tc.steps)
		assert.GreaterOrEqual(t, best, tc.min, "limit %v tried %v", tc.limit, tried)
		assert.LessOrEqual(t, best, tc.max, "limit %v tried %v", tc.limit, tried)
		for i, st := range steps {
			assert.Equal(t, tried[i], st.Rate)
		}
	}
}

// Without a C compiler there is no anchor, and the reason is one line.
func TestNativeAbsentWithoutCompiler(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := BuildNative(context.Background(), t.TempDir())
	require.Error(t, err)
	assert.Equal(t, "no C compiler (cc) on PATH", err.Error())
}

func TestSearchCellIsTheMedianOfItsRuns(t *testing.T) {
	var s Search
	s.add(300e3, []Step{{Rate: 100e3, Pass: true}, {Rate: 300e3, Pass: true}})
	s.add(100e3, []Step{{Rate: 100e3, Pass: true}})
	s.add(250e3, []Step{{Rate: 250e3, Pass: true}})
	if s.Best != 250e3 {
		t.Fatalf("best %v, want the median 250k of %v", s.Best, s.Bests)
	}
	if len(s.Steps) != 4 || s.Steps[0].Run != 1 || s.Steps[2].Run != 2 || s.Steps[3].Run != 3 {
		t.Fatalf("steps not numbered by run: %+v", s.Steps)
	}
}

// A child whose lines nobody reads (a device, an echo) still has its own
// peak RSS taken from its result line, not wait4's figure, which on Linux
// can be the parent's (the child starts as a copy of it).
func TestUnreadChildReportsItsOwnRSS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := startChild(ctx, "sh", []string{"sh", "-c", `echo listening x; echo 'result {"rss_bytes":12345}'`})
	require.NoError(t, err)
	_, err = p.expect(ctx, "listening ")
	require.NoError(t, err)
	require.NoError(t, p.finish(ctx))
	assert.EqualValues(t, 12345, p.peakRSS())
}
