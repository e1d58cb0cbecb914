package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The perf tools keep libzmq's default HWM: a sender with no receiver
// stops at it instead of queueing without bound.
func TestRemoteThrStopsAtTheHWM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := RemoteThr(ctx, "ipc://"+t.TempDir()+"/nobody", 64, 100000)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
