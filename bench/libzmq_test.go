//go:build interop && libzmq

package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
)

// The libzmq baseline really runs libzmq (through cgo) in the same process.
func TestLibzmqBaselineRows(t *testing.T) {
	require.True(t, bench.LibzmqBuiltIn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := bench.Run(ctx, bench.Config{Patterns: []string{"pushpull"}, Transports: []string{"tcp"},
		Sizes: []int{128}, Count: 20000, Duration: time.Second, Baselines: true})
	require.NoError(t, err)
	var thr, lat bool
	for _, r := range rows {
		if r.System != "libzmq" {
			continue
		}
		assert.Empty(t, r.Err)
		assert.Equal(t, r.Sent, r.Received)
		assert.Positive(t, r.RecvRate)
		switch r.Pattern {
		case "pushpull":
			thr = true
		case "reqrep":
			lat = r.Latency != nil && r.Latency.P50 > 0
		}
	}
	assert.True(t, thr, "libzmq throughput row")
	assert.True(t, lat, "libzmq latency row")
}
