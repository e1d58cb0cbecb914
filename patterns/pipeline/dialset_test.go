package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pipeline"
)

// A Ventilator that dials a set of listening workers deals its tasks over
// all of them; the workers dial its results endpoint back.
func TestVentilatorDialsWorkerSet(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	v, err := pipeline.NewVentilator(codec.JSON[task](), codec.JSON[square]())
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	bound, err := v.Listen(pipeline.Endpoints{Results: "tcp://127.0.0.1:0"})
	require.NoError(t, err)
	assert.Empty(t, bound.Tasks)

	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	set := "list://"
	for i := 0; i < 3; i++ {
		w, err := pipeline.NewWorker(codec.JSON[task](), codec.JSON[square](), pipeline.WithName(fmt.Sprintf("w%d", i)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = w.Close() })
		ep, err := w.Listen(pipeline.Endpoints{Tasks: "tcp://127.0.0.1:0"})
		require.NoError(t, err)
		require.NoError(t, w.Dial(pipeline.Endpoints{Results: bound.Results}))
		set += ep.Tasks[len("tcp://"):] + ","
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.Run(ctx, func(_ context.Context, tk task) (square, error) { return square{N: tk.N, Sq: tk.N * tk.N}, nil })
		}()
	}
	require.NoError(t, v.Dial(pipeline.Endpoints{Tasks: set}))
	require.NoError(t, v.WaitWorkers(ctx, 3))
	const n = 60
	for i := 1; i <= n; i++ {
		_, err := v.Submit(ctx, task{N: i})
		require.NoError(t, err)
	}
	require.NoError(t, v.Wait(ctx))
	per := map[string]int{}
	for _, r := range v.Drain() {
		require.NoError(t, r.Err)
		per[r.Worker]++
	}
	assert.Len(t, per, 3, "every worker had tasks: %v", per)
}
