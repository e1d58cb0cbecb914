package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The histogram's percentiles agree with the exact ones (from the sorted
// values) to within 1 %, over values from nanoseconds to seconds.
func TestHistogramPercentilesWithinOnePercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	var vals []time.Duration
	for range 100000 {
		// log-uniform from 50 ns to about 5 s
		v := time.Duration(50 * float64(uint64(1)<<rng.IntN(27)) * (1 + rng.Float64()))
		vals = append(vals, v)
		h.Record(v)
	}
	slices.Sort(vals)
	require.Equal(t, uint64(len(vals)), h.Count())
	for _, p := range []float64{1, 10, 50, 90, 99, 99.9, 100} {
		rank := int(float64(len(vals))*p/100+0.999999) - 1
		exact := vals[max(rank, 0)]
		got := h.Percentile(p)
		assert.InEpsilon(t, float64(exact), float64(got), 0.01, "p%v: exact %v, histogram %v", p, exact, got)
	}
	assert.Equal(t, vals[len(vals)-1], h.Max())
}

func TestHistogramSmallAndEmpty(t *testing.T) {
	var h histogram
	assert.Zero(t, h.Percentile(50))
	assert.Zero(t, h.Mean())
	for _, v := range []time.Duration{3, 3, 3, 100, -5} {
		h.Record(v)
	}
	assert.Equal(t, time.Duration(3), h.Percentile(50))
	assert.Equal(t, time.Duration(100), h.Percentile(100))
	assert.Equal(t, time.Duration(0), h.Percentile(1), "a negative value counts as zero")
	assert.Equal(t, time.Duration(21), h.Mean())
}
