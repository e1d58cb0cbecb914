package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pipeline"
	"github.com/zmqkit/zmqkit/sockets"
)

// obs (issue 14): with sockets.WithHeaders on both sides, a task's
// context headers reach the worker's handler; a worker without it reports
// the task not decodable rather than mis-reading it.
func TestTaskCarriesHeaders(t *testing.T) {
	hdrs := sockets.Headers{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	for _, workerHeaders := range []bool{true, false} {
		ctx := testCtx(t, 20*time.Second)
		with := pipeline.WithSocketOptions(sockets.WithHeaders(true))
		v, ep := newVentilator(t, "inproc", with)
		r := newRunner(t)
		seen := make(chan string, 2)
		r.start(ctx, ep, "w", func(ctx context.Context, tk task) (square, error) {
			h, _ := sockets.HeadersFromContext(ctx)
			seen <- h["traceparent"]
			return square{N: tk.N, Sq: tk.N * tk.N}, nil
		}, pipeline.WithSocketOptions(sockets.WithHeaders(workerHeaders)))
		require.NoError(t, v.WaitWorkers(ctx, 1))
		_, err := v.Submit(sockets.ContextWithHeaders(ctx, hdrs), task{N: 3})
		require.NoError(t, err)
		res, err := v.Next(ctx)
		require.NoError(t, err)
		if !workerHeaders {
			assert.ErrorIs(t, res.Err, codec.ErrDecode)
			assert.Contains(t, res.Err.Error(), "header frame")
			continue
		}
		require.NoError(t, res.Err)
		assert.Equal(t, 9, res.Value.Sq)
		assert.Equal(t, hdrs["traceparent"], <-seen)
		_, err = v.Submit(ctx, task{N: 2})
		require.NoError(t, err)
		_, err = v.Next(ctx)
		require.NoError(t, err)
		assert.Equal(t, "", <-seen, "no headers, none in the handler's context")
	}
}
