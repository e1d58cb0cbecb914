package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/patterns/pipeline"
	"github.com/zmqkit/zmqkit/sockets"
)

type task struct {
	N int `json:"n"`
}

type square struct {
	N, Sq int
}

var seq atomic.Uint64

// endpoints returns fresh endpoints to listen on for a transport.
func endpoints(t *testing.T, tr string) pipeline.Endpoints {
	t.Helper()
	n := seq.Add(1)
	switch tr {
	case "tcp":
		return pipeline.Endpoints{Tasks: "tcp://127.0.0.1:0", Results: "tcp://127.0.0.1:0"}
	case "ipc":
		dir, err := os.MkdirTemp("", "zkpl")
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		return pipeline.Endpoints{Tasks: "ipc://" + filepath.Join(dir, "t"), Results: "ipc://" + filepath.Join(dir, "r")}
	case "inproc":
		name := strings.ReplaceAll(t.Name(), "/", "-")
		return pipeline.Endpoints{Tasks: fmt.Sprintf("inproc://%s-%d-t", name, n), Results: fmt.Sprintf("inproc://%s-%d-r", name, n)}
	}
	t.Fatalf("unknown transport %q", tr)
	return pipeline.Endpoints{}
}

// Short names for the shared helpers.
var (
	testCtx    = testutil.Context
	eventually = testutil.Eventually
)

func newVentilator(t *testing.T, tr string, opts ...pipeline.VentilatorOption) (*pipeline.Ventilator[task, square], pipeline.Endpoints) {
	t.Helper()
	v, err := pipeline.NewVentilator(codec.JSON[task](), codec.JSON[square](), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ep, err := v.Listen(endpoints(t, tr))
	require.NoError(t, err)
	return v, ep
}

// runner runs workers in goroutines and waits for them in Cleanup.
type runner struct {
	t  *testing.T
	wg sync.WaitGroup
}

func newRunner(t *testing.T) *runner {
	r := &runner{t: t}
	t.Cleanup(r.wg.Wait)
	return r
}

// start creates a worker dialled to ep and runs h in it until the test ends
// or the worker is closed. Cleanup closes it (before waiting for it).
func (r *runner) start(ctx context.Context, ep pipeline.Endpoints, name string, h pipeline.Handler[task, square], opts ...pipeline.WorkerOption) *pipeline.Worker[task, square] {
	r.t.Helper()
	w, err := pipeline.NewWorker(codec.JSON[task](), codec.JSON[square](), append([]pipeline.WorkerOption{pipeline.WithName(name)}, opts...)...)
	require.NoError(r.t, err)
	require.NoError(r.t, w.Dial(ep))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = w.Run(ctx, h)
	}()
	r.t.Cleanup(func() { _ = w.Close() })
	return w
}

func squareIt(_ context.Context, tk task) (square, error) {
	return square{N: tk.N, Sq: tk.N * tk.N}, nil
}

func TestJoinCountsEveryTaskOnce(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc", "inproc"} {
		t.Run(tr, func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			v, ep := newVentilator(t, tr)
			r := newRunner(t)
			var ran [3]atomic.Int64
			for i := range ran {
				r.start(ctx, ep, fmt.Sprintf("w%d", i), func(ctx context.Context, tk task) (square, error) {
					ran[i].Add(1)
					return squareIt(ctx, tk)
				})
			}
			require.NoError(t, v.WaitWorkers(ctx, 3))
			const n = 90
			ids := make(map[uint64]int, n)
			for i := 1; i <= n; i++ {
				id, err := v.Submit(ctx, task{N: i})
				require.NoError(t, err)
				ids[id] = i
			}
			require.NoError(t, v.Wait(ctx))

			res := v.Drain()
			require.Len(t, res, n)
			seen := make(map[uint64]bool, n)
			for _, r := range res {
				assert.NoError(t, r.Err)
				assert.False(t, seen[r.ID], "task %d settled twice", r.ID)
				seen[r.ID] = true
				assert.Equal(t, ids[r.ID], r.Task.N)
				assert.Equal(t, square{N: r.Task.N, Sq: r.Task.N * r.Task.N}, r.Value)
				assert.Equal(t, 1, r.Attempts)
			}
			// Round-robin over three connected workers: a third each.
			for i := range ran {
				assert.Equal(t, int64(n/3), ran[i].Load(), "worker %d", i)
			}
			st := v.Stats()
			assert.Equal(t, pipeline.Stats{Submitted: n, Sent: n, Completed: n, Workers: 3}, st)
		})
	}
}

// A worker closes its sockets while it holds a task: the ventilator sends
// the task again after the timeout, another worker does it, and the sink
// counts it once.
func TestWorkerKilledMidTaskIsReissued(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	const timeout = 200 * time.Millisecond
	v, ep := newVentilator(t, "tcp", pipeline.WithTaskTimeout(timeout))
	r := newRunner(t)

	held := make(chan task, 1)
	a := r.start(ctx, ep, "a", func(ctx context.Context, tk task) (square, error) {
		held <- tk
		<-ctx.Done() // dies before finishing
		return square{}, ctx.Err()
	})
	require.NoError(t, v.WaitWorkers(ctx, 1))
	sent := time.Now()
	id, err := v.Submit(ctx, task{N: 7})
	require.NoError(t, err)
	select {
	case tk := <-held:
		require.Equal(t, 7, tk.N)
	case <-ctx.Done():
		t.Fatal("worker a never got the task")
	}

	var bRan atomic.Int64
	r.start(ctx, ep, "b", func(ctx context.Context, tk task) (square, error) {
		bRan.Add(1)
		return squareIt(ctx, tk)
	})
	require.NoError(t, v.WaitWorkers(ctx, 2))
	require.NoError(t, a.Close())

	res, err := v.Next(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(sent), timeout, "re-issued before the timeout")
	assert.Equal(t, id, res.ID)
	assert.NoError(t, res.Err)
	assert.Equal(t, square{N: 7, Sq: 49}, res.Value)
	assert.Equal(t, "b", res.Worker)
	assert.GreaterOrEqual(t, res.Attempts, 2)
	require.NoError(t, v.Wait(ctx))
	assert.Equal(t, int64(1), bRan.Load())
	eventually(t, 5*time.Second, func() bool { return a.Stats().Interrupted == 1 }, "a did not stop")
	assert.Equal(t, pipeline.WorkerStats{Received: 1, Interrupted: 1}, a.Stats(), "a never reported the task")

	st := v.Stats()
	assert.Equal(t, uint64(1), st.Submitted)
	assert.Equal(t, uint64(1), st.Completed)
	assert.GreaterOrEqual(t, st.Reissued, uint64(1))
	assert.Zero(t, st.Duplicates)
	assert.Zero(t, st.InFlight)
	assert.Empty(t, v.Drain(), "the task was counted once")
}

// In a batch over three workers, one dies on its third task: every task
// still settles exactly once, with its value.
func TestWorkerKilledDuringBatch(t *testing.T) {
	ctx := testCtx(t, 15*time.Second)
	v, ep := newVentilator(t, "tcp", pipeline.WithTaskTimeout(300*time.Millisecond), pipeline.WithMaxAttempts(5))
	r := newRunner(t)

	var victimRan atomic.Int64
	dying := make(chan struct{})
	victim := r.start(ctx, ep, "victim", func(ctx context.Context, tk task) (square, error) {
		if victimRan.Add(1) == 3 {
			close(dying)
			<-ctx.Done()
			return square{}, ctx.Err()
		}
		return squareIt(ctx, tk)
	})
	for i := range 2 {
		r.start(ctx, ep, fmt.Sprintf("w%d", i), func(ctx context.Context, tk task) (square, error) {
			// "Work": a timer, so that the victim's queue is not empty when it dies.
			select {
			case <-time.After(time.Millisecond):
			case <-ctx.Done():
				return square{}, ctx.Err()
			}
			return squareIt(ctx, tk)
		})
	}
	require.NoError(t, v.WaitWorkers(ctx, 3))

	const n = 60
	submitted := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if _, err := v.Submit(ctx, task{N: i}); err != nil {
				submitted <- err
				return
			}
		}
		submitted <- nil
	}()
	select {
	case <-dying:
	case <-ctx.Done():
		t.Fatal("the victim never took a third task")
	}
	require.NoError(t, victim.Close())
	require.NoError(t, <-submitted)
	require.NoError(t, v.Wait(ctx))

	res := v.Drain()
	require.Len(t, res, n)
	byN := make(map[int]int)
	reissued := 0
	for _, r := range res {
		require.NoError(t, r.Err)
		assert.Equal(t, r.Task.N*r.Task.N, r.Value.Sq)
		byN[r.Task.N]++
		if r.Attempts > 1 {
			reissued++
			assert.NotEqual(t, "victim", r.Worker)
		}
	}
	for i := 1; i <= n; i++ {
		assert.Equal(t, 1, byN[i], "task %d", i)
	}
	assert.GreaterOrEqual(t, reissued, 1, "the task the victim held was re-issued")
	st := v.Stats()
	assert.Equal(t, uint64(n), st.Completed)
	assert.GreaterOrEqual(t, st.Reissued, uint64(reissued))
	assert.Zero(t, st.GaveUp)
}

// A worker slower than the timeout finishes after the re-issued copy did:
// its late result is dropped and counted as a duplicate.
func TestLateResultIsDroppedAsDuplicate(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	v, ep := newVentilator(t, "tcp", pipeline.WithTaskTimeout(150*time.Millisecond))
	r := newRunner(t)

	var first atomic.Bool
	holding := make(chan string, 1)
	release := make(chan struct{})
	var execs atomic.Int64
	handler := func(name string) pipeline.Handler[task, square] {
		return func(ctx context.Context, tk task) (square, error) {
			execs.Add(1)
			if first.CompareAndSwap(false, true) {
				holding <- name
				select {
				case <-release:
				case <-ctx.Done():
					return square{}, ctx.Err()
				}
			}
			return squareIt(ctx, tk)
		}
	}
	r.start(ctx, ep, "a", handler("a"))
	r.start(ctx, ep, "b", handler("b"))
	require.NoError(t, v.WaitWorkers(ctx, 2))

	_, err := v.Submit(ctx, task{N: 3})
	require.NoError(t, err)
	slow := <-holding
	res, err := v.Next(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, slow, res.Worker)
	assert.Equal(t, 2, res.Attempts)
	assert.Equal(t, 9, res.Value.Sq)

	close(release)
	eventually(t, 5*time.Second, func() bool { return v.Stats().Duplicates == 1 }, "the late result was not seen")
	assert.Equal(t, int64(2), execs.Load(), "ran twice")
	assert.Equal(t, uint64(1), v.Stats().Completed, "counted once")
	assert.Empty(t, v.Drain())
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	const timeout, attempts = 100 * time.Millisecond, 3
	v, ep := newVentilator(t, "tcp", pipeline.WithTaskTimeout(timeout), pipeline.WithMaxAttempts(attempts))
	r := newRunner(t)
	var got atomic.Int64
	r.start(ctx, ep, "mute", func(ctx context.Context, tk task) (square, error) {
		got.Add(1)
		<-ctx.Done() // never answers
		return square{}, ctx.Err()
	}, pipeline.WithConcurrency(attempts))
	require.NoError(t, v.WaitWorkers(ctx, 1))

	start := time.Now()
	_, err := v.Submit(ctx, task{N: 1})
	require.NoError(t, err)
	require.NoError(t, v.Wait(ctx))
	elapsed := time.Since(start)

	res := v.Drain()
	require.Len(t, res, 1)
	assert.ErrorIs(t, res[0].Err, pipeline.ErrGaveUp)
	assert.Equal(t, attempts, res[0].Attempts)
	assert.GreaterOrEqual(t, elapsed, attempts*timeout)
	assert.Less(t, elapsed, attempts*timeout+2*time.Second)
	eventually(t, 5*time.Second, func() bool { return got.Load() == attempts }, "the worker did not get every attempt")
	st := v.Stats()
	assert.Equal(t, uint64(1), st.GaveUp)
	assert.Equal(t, uint64(attempts-1), st.Reissued)
	assert.Equal(t, uint64(attempts), st.Sent)
}

func TestWorkerFailuresAreFinal(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	v, ep := newVentilator(t, "tcp", pipeline.WithTaskTimeout(5*time.Second))
	r := newRunner(t)
	var execs atomic.Int64
	r.start(ctx, ep, "w", func(ctx context.Context, tk task) (square, error) {
		execs.Add(1)
		switch tk.N {
		case 1:
			return square{}, errors.New("no odd squares today")
		case 2:
			panic("boom")
		}
		return squareIt(ctx, tk)
	})
	require.NoError(t, v.WaitWorkers(ctx, 1))
	for i := 1; i <= 3; i++ {
		_, err := v.Submit(ctx, task{N: i})
		require.NoError(t, err)
	}
	require.NoError(t, v.Wait(ctx))
	res := v.Drain()
	require.Len(t, res, 3)
	byN := map[int]pipeline.Result[task, square]{}
	for _, r := range res {
		byN[r.Task.N] = r
		assert.Equal(t, 1, r.Attempts)
		assert.Equal(t, "w", r.Worker)
	}
	var te *pipeline.TaskError
	require.ErrorAs(t, byN[1].Err, &te)
	assert.ErrorIs(t, byN[1].Err, pipeline.ErrTaskFailed)
	assert.Equal(t, "no odd squares today", te.Msg)
	assert.ErrorIs(t, byN[2].Err, pipeline.ErrTaskFailed)
	assert.Contains(t, byN[2].Err.Error(), "panicked: boom")
	assert.NoError(t, byN[3].Err)
	assert.Equal(t, int64(3), execs.Load(), "failures are not retried")
	st := v.Stats()
	assert.Equal(t, uint64(2), st.Failed)
	assert.Equal(t, uint64(1), st.Completed)
}

func TestUndecodableTaskAndResult(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	v, err := pipeline.NewVentilator(codec.String(), codec.JSON[int]())
	require.NoError(t, err)
	defer v.Close()
	ep, err := v.Listen(endpoints(t, "tcp"))
	require.NoError(t, err)
	// The worker expects JSON numbers and answers with strings that are not JSON.
	w, err := pipeline.NewWorker(codec.JSON[int](), codec.String(), pipeline.WithName("w"))
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Dial(ep))
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(_ context.Context, n int) (string, error) { return fmt.Sprint("n=", n), nil })
	}()
	require.NoError(t, v.WaitWorkers(ctx, 1))

	_, err = v.Submit(ctx, "not json")
	require.NoError(t, err)
	res, err := v.Next(ctx)
	require.NoError(t, err)
	assert.ErrorIs(t, res.Err, pipeline.ErrTaskFailed)
	assert.ErrorIs(t, res.Err, codec.ErrDecode)

	_, err = v.Submit(ctx, "12")
	require.NoError(t, err)
	res, err = v.Next(ctx)
	require.NoError(t, err)
	assert.ErrorIs(t, res.Err, codec.ErrDecode, "the result %q is not JSON", "n=12")
	assert.NotErrorIs(t, res.Err, pipeline.ErrTaskFailed)
	assert.Equal(t, uint64(2), v.Stats().Failed)

	require.NoError(t, w.Close())
	assert.ErrorIs(t, <-done, pipeline.ErrClosed)
}

// Results that do not belong to this ventilator — malformed, or from an
// earlier ventilator on the same endpoint — are dropped and counted.
func TestStrayResultsAreDropped(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	v, ep := newVentilator(t, "tcp")
	push, err := sockets.NewPush()
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(ep.Results))
	otherEpoch := make([]byte, 21)
	otherEpoch[0] = 1
	otherEpoch[16] = 1 // task 1 of epoch 0
	for _, m := range [][][]byte{
		{[]byte("one frame")},
		{otherEpoch, {0}, []byte("4"), []byte("w")},
		{[]byte("short"), {0}, []byte("4"), []byte("w")},
	} {
		require.NoError(t, push.Send(ctx, m...))
	}
	eventually(t, 5*time.Second, func() bool { return v.Stats().Stray == 3 }, "stray results not counted")
	assert.Zero(t, v.Stats().Completed)
}

// The prefetch window: n tasks outstanding per connected worker, none
// while no worker is connected.
func TestPrefetchBoundsSubmit(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	v, ep := newVentilator(t, "tcp", pipeline.WithPrefetch(2))
	submitFails := func(n int) {
		t.Helper()
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := v.Submit(short, task{N: n})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	}
	submitFails(0) // no worker yet

	r := newRunner(t)
	release := make(chan struct{})
	hold := func(ctx context.Context, tk task) (square, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return squareIt(ctx, tk)
	}
	r.start(ctx, ep, "w1", hold)
	require.NoError(t, v.WaitWorkers(ctx, 1))
	for i := 1; i <= 2; i++ {
		_, err := v.Submit(ctx, task{N: i})
		require.NoError(t, err)
	}
	submitFails(3)
	assert.Equal(t, 2, v.Stats().InFlight)

	r.start(ctx, ep, "w2", hold) // a second worker doubles the window
	require.NoError(t, v.WaitWorkers(ctx, 2))
	for i := 3; i <= 4; i++ {
		_, err := v.Submit(ctx, task{N: i})
		require.NoError(t, err)
	}
	submitFails(5)

	close(release)
	_, err := v.Submit(ctx, task{N: 5})
	require.NoError(t, err)
	require.NoError(t, v.Wait(ctx))
	assert.Len(t, v.Drain(), 5)
	assert.Equal(t, uint64(5), v.Stats().Submitted)
}

// Workers outlive a ventilator: a new one on the same endpoints gets them
// back, and results meant for the old one are not mistaken for its own.
func TestVentilatorRestart(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	v1, ep := newVentilator(t, "tcp")
	r := newRunner(t)
	r.start(ctx, ep, "w", squareIt)
	require.NoError(t, v1.WaitWorkers(ctx, 1))
	_, err := v1.Submit(ctx, task{N: 2})
	require.NoError(t, err)
	require.NoError(t, v1.Wait(ctx))
	require.NoError(t, v1.Close())

	v2, err := pipeline.NewVentilator(codec.JSON[task](), codec.JSON[square]())
	require.NoError(t, err)
	defer v2.Close()
	_, err = v2.Listen(ep)
	require.NoError(t, err)
	require.NoError(t, v2.WaitWorkers(ctx, 1))
	_, err = v2.Submit(ctx, task{N: 5})
	require.NoError(t, err)
	res, err := v2.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, 25, res.Value.Sq)
}

func TestCloseWakesEveryone(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	v, ep := newVentilator(t, "tcp")
	r := newRunner(t)
	r.start(ctx, ep, "w", func(ctx context.Context, tk task) (square, error) {
		<-ctx.Done()
		return square{}, ctx.Err()
	})
	require.NoError(t, v.WaitWorkers(ctx, 1))
	_, err := v.Submit(ctx, task{N: 1})
	require.NoError(t, err)

	errs := make(chan error, 3)
	go func() { errs <- v.Wait(ctx) }()
	go func() { _, err := v.Next(ctx); errs <- err }()
	go func() { errs <- v.WaitWorkers(ctx, 5) }()
	eventually(t, 5*time.Second, func() bool { return v.Stats().InFlight == 1 }, "")
	require.NoError(t, v.Close())
	for range 3 {
		assert.ErrorIs(t, <-errs, pipeline.ErrClosed)
	}
	_, err = v.Submit(ctx, task{N: 2})
	assert.ErrorIs(t, err, pipeline.ErrClosed)
	require.NoError(t, v.Close(), "idempotent")
}

func TestWorkerRunEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t, 10*time.Second))
	w, err := pipeline.NewWorker(codec.JSON[task](), codec.JSON[square]())
	require.NoError(t, err)
	defer w.Close()
	assert.NotEmpty(t, w.Name())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, squareIt) }()
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestBadOptions(t *testing.T) {
	newV := func(o pipeline.VentilatorOption) error {
		_, err := pipeline.NewVentilator(codec.JSON[task](), codec.JSON[square](), o)
		return err
	}
	newW := func(o pipeline.WorkerOption) error {
		_, err := pipeline.NewWorker(codec.JSON[task](), codec.JSON[square](), o)
		return err
	}
	for name, err := range map[string]error{
		"timeout":            newV(pipeline.WithTaskTimeout(0)),
		"attempts":           newV(pipeline.WithMaxAttempts(0)),
		"prefetch":           newV(pipeline.WithPrefetch(0)),
		"ventilator HWM":     newV(pipeline.WithTaskHWM(-1)),
		"ventilator results": newV(pipeline.WithResultHWM(-1)),
		"ventilator socket":  newV(pipeline.WithSocketOptions(sockets.WithSendHWM(-1))),
		"worker HWM":         newW(pipeline.WithTaskHWM(-1)),
		"worker results":     newW(pipeline.WithResultHWM(-1)),
		"worker socket":      newW(pipeline.WithSocketOptions(sockets.WithSendHWM(-1))),
		"concurrency":        newW(pipeline.WithConcurrency(0)),
		"linger":             newW(pipeline.WithLinger(-1)),
	} {
		assert.ErrorIs(t, err, sockets.ErrBadOption, name)
	}
	_, err := pipeline.NewVentilator[task, square](nil, codec.JSON[square]())
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}
