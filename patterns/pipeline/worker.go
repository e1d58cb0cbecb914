package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/internal/options"
	"github.com/zmqkit/zmqkit/sockets"
)

// Handler does one task. Its context ends when the worker stops; a task
// interrupted that way is not reported, so the Ventilator re-issues it.
type Handler[T, R any] func(ctx context.Context, task T) (R, error)

// WorkerStats is a snapshot of a Worker's counters.
type WorkerStats struct {
	Received    uint64 // task messages received
	Done        uint64 // results sent
	Failed      uint64 // failures sent (handler error or panic, undecodable task)
	Interrupted uint64 // tasks dropped unreported because the worker was stopping
	Malformed   uint64 // task messages without the pipeline's framing
}

// Worker pulls tasks from a Ventilator, runs a Handler on each and pushes
// the results back. Run several Workers (or one WithConcurrency) to share
// the work; they may live in any process that can reach the endpoints.
type Worker[T, R any] struct {
	tc   codec.Codec[T]
	rc   codec.Codec[R]
	cfg  config
	name []byte

	tasks   *sockets.Socket // PULL
	results *sockets.Socket // PUSH

	ctx       context.Context // ends with Close
	cancel    context.CancelFunc
	closeOnce sync.Once

	received, done, failed, interrupted, malformed atomic.Uint64
}

var workerSeq atomic.Uint64

// NewWorker creates a Worker for tasks of type T, decoded with tc, and
// results of type R, encoded with rc. Dial, then Run.
func NewWorker[T, R any](tc codec.Codec[T], rc codec.Codec[R], opts ...WorkerOption) (*Worker[T, R], error) {
	if tc == nil || rc == nil {
		return nil, options.Bad("nil codec")
	}
	cfg, err := newConfig(opts, WorkerOption.applyWorker)
	if err != nil {
		return nil, err
	}
	if cfg.name == "" {
		host, _ := os.Hostname()
		cfg.name = fmt.Sprintf("%s/%d/%d", host, os.Getpid(), workerSeq.Add(1))
	}
	tasks, err := sockets.NewPull(cfg.socketOptions(sockets.WithRecvHWM(cfg.taskHWM), sockets.WithLinger(0))...)
	if err != nil {
		return nil, err
	}
	results, err := sockets.NewPush(cfg.socketOptions(sockets.WithSendHWM(cfg.resultHWM), sockets.WithLinger(cfg.linger))...)
	if err != nil {
		tasks.Close()
		return nil, err
	}
	w := &Worker[T, R]{tc: tc, rc: rc, cfg: cfg, name: []byte(cfg.name), tasks: tasks, results: results}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w, nil
}

// Name is the name the worker reports with its results.
func (w *Worker[T, R]) Name() string { return w.cfg.name }

// Dial connects to a Ventilator's endpoints. Like every Dial it returns at
// once and reconnects for as long as the worker lives. An empty endpoint is
// skipped, for a worker that listens for tasks (Listen) and dials results.
func (w *Worker[T, R]) Dial(ep Endpoints) error {
	if ep.Tasks == "" && ep.Results == "" {
		return fmt.Errorf("pipeline: dial: %w", sockets.ErrBadEndpoint)
	}
	if ep.Tasks != "" {
		if err := w.tasks.Dial(ep.Tasks); err != nil {
			return fmt.Errorf("pipeline: tasks: %w", err)
		}
	}
	if ep.Results != "" {
		if err := w.results.Dial(ep.Results); err != nil {
			if ep.Tasks != "" {
				_ = w.tasks.Disconnect(ep.Tasks)
			}
			return fmt.Errorf("pipeline: results: %w", err)
		}
	}
	return nil
}

// Listen binds the endpoints of ep that are not empty, for a Ventilator
// that dials its workers (Ventilator.Dial), and returns them as bound. A
// worker may listen for tasks and dial the results endpoint, or any mix.
func (w *Worker[T, R]) Listen(ep Endpoints) (Endpoints, error) {
	var bound Endpoints
	var err error
	if ep.Tasks != "" {
		if bound.Tasks, err = w.tasks.Listen(ep.Tasks); err != nil {
			return Endpoints{}, fmt.Errorf("pipeline: tasks: %w", err)
		}
	}
	if ep.Results != "" {
		if bound.Results, err = w.results.Listen(ep.Results); err != nil {
			if bound.Tasks != "" {
				_ = w.tasks.Unbind(bound.Tasks)
			}
			return Endpoints{}, fmt.Errorf("pipeline: results: %w", err)
		}
	}
	return bound, nil
}

// Run handles tasks until ctx ends (it returns ctx's error) or Close
// (ErrClosed). A handler error or panic is reported to the Ventilator as
// the task's failure; it is not retried.
func (w *Worker[T, R]) Run(ctx context.Context, h Handler[T, R]) error {
	if h == nil {
		return options.Bad("nil handler")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(w.ctx, cancel)
	defer stop()

	errs := make(chan error, w.cfg.concurrency)
	var wg sync.WaitGroup
	for i := 1; i < w.cfg.concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.loop(ctx, h)
			cancel()
		}()
	}
	err := w.loop(ctx, h)
	cancel()
	wg.Wait()
	close(errs)
	if w.ctx.Err() != nil {
		return ErrClosed
	}
	for e := range errs {
		if err == nil || errors.Is(err, context.Canceled) {
			err = e
		}
	}
	return err
}

func (w *Worker[T, R]) loop(ctx context.Context, h Handler[T, R]) error {
	for {
		m, err := w.tasks.RecvMsg(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		w.received.Add(1)
		hctx := ctx
		if len(m.Tail) == 2 && sockets.IsHeaderFrame(m.Tail[0]) { // obs: headers (wire.go)
			hd, err := sockets.ReadHeaders(m.Tail[0], w.tasks.HeadersEnabled())
			if err != nil {
				if err := w.reply(ctx, m.Head, statusBadTask, []byte(err.Error())); err != nil {
					return err
				}
				continue
			}
			hctx = sockets.ContextWithHeaders(ctx, hd)
			m.Tail = m.Tail[1:]
		}
		if len(m.Tail) != 1 {
			w.malformed.Add(1)
			continue
		}
		hdr := m.Head
		task, err := codec.Decode(w.tc, m.Tail[0])
		if err != nil {
			if err := w.reply(ctx, hdr, statusBadTask, []byte(err.Error())); err != nil {
				return err
			}
			continue
		}
		r, herr := w.call(hctx, h, task)
		if ctx.Err() != nil {
			w.interrupted.Add(1) // the Ventilator will re-issue it
			return ctx.Err()
		}
		status, body := byte(statusOK), []byte(nil)
		if herr == nil {
			body, herr = codec.Encode(w.rc, r)
		}
		if herr != nil {
			status, body = statusFailed, []byte(herr.Error())
		}
		if err := w.reply(ctx, hdr, status, body); err != nil {
			return err
		}
	}
}

func (w *Worker[T, R]) call(ctx context.Context, h Handler[T, R], task T) (r R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, task)
}

func (w *Worker[T, R]) reply(ctx context.Context, hdr []byte, status byte, body []byte) error {
	if body == nil {
		body = []byte{}
	}
	// The status frames are shared and never written to, like the name.
	m := sockets.Msg{Head: hdr, Tail: [][]byte{statusFrames[status], body, w.name}}
	if err := w.results.SendMsg(ctx, m); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if status == statusOK {
		w.done.Add(1)
	} else {
		w.failed.Add(1)
	}
	return nil
}

var statusFrames = [...][]byte{statusOK: {statusOK}, statusFailed: {statusFailed}, statusBadTask: {statusBadTask}}

// Stats returns a snapshot of the counters.
func (w *Worker[T, R]) Stats() WorkerStats {
	return WorkerStats{
		Received: w.received.Load(), Done: w.done.Load(), Failed: w.failed.Load(),
		Interrupted: w.interrupted.Load(), Malformed: w.malformed.Load(),
	}
}

// Close stops Run (its handlers' contexts end), waits up to the linger
// period (WithLinger) for queued results to go out, and closes the sockets.
// Tasks the worker held are re-issued by the Ventilator after their
// timeout. Close is idempotent.
func (w *Worker[T, R]) Close() error {
	w.closeOnce.Do(func() {
		w.cancel()
		_ = w.tasks.Close()
		_ = w.results.Close()
	})
	return nil
}
