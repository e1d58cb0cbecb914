package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/internal/options"
	"github.com/zmqkit/zmqkit/sockets"
)

// Endpoints are the two addresses of a pipeline: usually the Ventilator
// listens on both and Workers dial both. Either side may be turned round
// (Ventilator.Dial, Worker.Listen): a Ventilator that dials
// dns://workers:5557 for its tasks deals them over every worker behind the
// name, following the pool as it grows and shrinks.
type Endpoints struct {
	Tasks   string // tasks leave the Ventilator here (its PUSH socket)
	Results string // results come back here (its PULL socket)
}

// Result is a settled task: the value its worker returned, or why there is
// none.
type Result[T, R any] struct {
	ID    uint64 // as returned by Submit
	Task  T      // the task as submitted
	Value R      // the worker's result when Err is nil
	// Err is nil, a *TaskError (matches ErrTaskFailed), an error matching
	// codec.ErrDecode when the result did not decode, or ErrGaveUp.
	Err      error
	Attempts int    // how many times the task was sent
	Worker   string // the name of the worker whose result counted
}

// Stats is a snapshot of a Ventilator's counters.
type Stats struct {
	Submitted  uint64 // tasks accepted by Submit
	Sent       uint64 // task messages sent, re-issues included
	Reissued   uint64 // tasks sent again after their timeout
	Completed  uint64 // tasks settled with a value
	Failed     uint64 // tasks settled with a worker's error or an undecodable result
	GaveUp     uint64 // tasks settled with ErrGaveUp
	Duplicates uint64 // results for tasks already settled, dropped
	Stray      uint64 // malformed results, or results for another ventilator, dropped
	InFlight   int    // tasks submitted and not settled
	Ready      int    // settled results not yet taken by Next or Drain
	Workers    int    // workers connected to the task endpoint
}

type counters struct {
	submitted, sent, reissued, completed, failed, gaveUp, duplicates, stray atomic.Uint64
}

// entry is an outstanding task. While a result is awaited it sits in the
// Ventilator's deadline list, which is in deadline order because every
// deadline is "now + the task timeout", taken under the lock.
type entry[T any] struct {
	id         uint64
	task       T
	payload    []byte // the encoded task, sent again as it is
	headers    []byte // obs: the header frame sent before it (nil: none), set once
	attempts   int
	deadline   time.Time
	linked     bool
	prev, next *entry[T]
}

// Ventilator hands tasks to workers and collects their results: the
// ventilator and the sink of the ZeroMQ guide's pipeline in one object (see
// the package comment for why). It is safe for concurrent use.
type Ventilator[T, R any] struct {
	tc    codec.Codec[T]
	rc    codec.Codec[R]
	cfg   config
	epoch uint64

	tasks   *sockets.Socket // PUSH
	results *sockets.Socket // PULL

	ctx       context.Context // ends with Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	kick      chan struct{} // the deadline list got a head

	mu         sync.Mutex
	nextID     uint64
	pending    map[uint64]*entry[T]
	head, tail *entry[T]
	idle       chan struct{} // closed while nothing is pending
	ready      []Result[T, R]
	readyCh    chan struct{} // closed when a result is added; nil: nobody waits
	workersCh  chan struct{} // closed when the workers change; nil: nobody waits
	roomCh     chan struct{} // closed when Submit may find room; nil: nobody waits

	names map[string]string // worker names, owned by collect

	st counters
}

// NewVentilator creates a Ventilator for tasks of type T, encoded with tc,
// and results of type R, decoded with rc. Listen, then Submit.
func NewVentilator[T, R any](tc codec.Codec[T], rc codec.Codec[R], opts ...VentilatorOption) (*Ventilator[T, R], error) {
	if tc == nil || rc == nil {
		return nil, options.Bad("nil codec")
	}
	cfg, err := newConfig(opts, VentilatorOption.applyVentilator)
	if err != nil {
		return nil, err
	}
	tasks, err := sockets.NewPush(cfg.socketOptions(sockets.WithSendHWM(cfg.taskHWM), sockets.WithLinger(0))...)
	if err != nil {
		return nil, err
	}
	results, err := sockets.NewPull(cfg.socketOptions(sockets.WithRecvHWM(cfg.resultHWM), sockets.WithLinger(0))...)
	if err != nil {
		tasks.Close()
		return nil, err
	}
	v := &Ventilator[T, R]{
		tc: tc, rc: rc, cfg: cfg,
		epoch:   rand.Uint64(),
		tasks:   tasks,
		results: results,
		kick:    make(chan struct{}, 1),
		pending: make(map[uint64]*entry[T]),
		idle:    make(chan struct{}),
		names:   make(map[string]string),
	}
	close(v.idle)
	v.ctx, v.cancel = context.WithCancel(context.Background())
	v.wg.Add(3)
	go v.collect()
	go v.reap()
	go v.watch()
	return v, nil
}

// Listen binds the task and result endpoints (tcp, ipc or inproc; tcp port
// 0 picks a free port) and returns them as bound. It may be called again
// for more endpoints. An empty endpoint is skipped: a Ventilator may listen
// for results and Dial its workers for tasks.
func (v *Ventilator[T, R]) Listen(ep Endpoints) (Endpoints, error) {
	if ep.Tasks == "" && ep.Results == "" {
		return Endpoints{}, fmt.Errorf("pipeline: listen: %w", sockets.ErrBadEndpoint)
	}
	var bound Endpoints
	var err error
	if ep.Tasks != "" {
		if bound.Tasks, err = v.tasks.Listen(ep.Tasks); err != nil {
			return Endpoints{}, fmt.Errorf("pipeline: tasks: %w", err)
		}
	}
	if ep.Results != "" {
		if bound.Results, err = v.results.Listen(ep.Results); err != nil {
			if bound.Tasks != "" {
				_ = v.tasks.Unbind(bound.Tasks)
			}
			return Endpoints{}, fmt.Errorf("pipeline: results: %w", err)
		}
	}
	return bound, nil
}

// Dial connects the Ventilator to workers that listen (Worker.Listen), for
// the endpoints of ep that are not empty: a tcp:// or ipc:// endpoint, or a
// dial set (dns://NAME:PORT, srv://NAME, list://…; see sockets.Socket.Dial)
// that deals tasks over, or collects results from, every member. A worker
// that leaves the set keeps the tasks it was sent; those whose result does
// not come are re-issued after the task timeout, as for a worker that dies.
func (v *Ventilator[T, R]) Dial(ep Endpoints) error {
	if ep.Tasks != "" {
		if err := v.tasks.Dial(ep.Tasks); err != nil {
			return fmt.Errorf("pipeline: tasks: %w", err)
		}
	}
	if ep.Results != "" {
		if err := v.results.Dial(ep.Results); err != nil {
			if ep.Tasks != "" {
				_ = v.tasks.Disconnect(ep.Tasks)
			}
			return fmt.Errorf("pipeline: results: %w", err)
		}
	}
	return nil
}

// Submit sends a task to one worker and returns its id. It waits while
// the prefetch window is full (WithPrefetch tasks outstanding per connected
// worker), which includes while no worker is connected — until ctx ends or
// Close.
//
// Workers are served round-robin among those connected when each task is
// sent: to spread a batch over a pool, let the pool connect first
// (WaitWorkers).
func (v *Ventilator[T, R]) Submit(ctx context.Context, task T) (uint64, error) {
	payload, err := codec.Encode(v.tc, task)
	if err != nil {
		return 0, fmt.Errorf("pipeline: submit: %w", err)
	}
	var hf []byte
	if v.tasks.HeadersEnabled() { // obs: the context's headers (wire.go)
		if h, ok := sockets.HeadersFromContext(ctx); ok && len(h) > 0 {
			if hf, err = sockets.EncodeHeaders(h); err != nil {
				return 0, fmt.Errorf("pipeline: submit: %w", err)
			}
		}
	}
	if err := v.room(ctx); err != nil {
		return 0, err
	}
	v.nextID++
	v.st.submitted.Add(1)
	e := &entry[T]{id: v.nextID, task: task, payload: payload, headers: hf, attempts: 1}
	if len(v.pending) == 0 {
		v.idle = make(chan struct{})
	}
	v.pending[e.id] = e
	v.mu.Unlock()

	if err := v.send(ctx, e.id, hf, payload, 1); err != nil {
		v.mu.Lock()
		if v.pending[e.id] == e {
			v.forget(e)
		}
		v.st.submitted.Add(^uint64(0))
		v.mu.Unlock()
		if errors.Is(err, sockets.ErrClosed) {
			return 0, ErrClosed
		}
		return 0, fmt.Errorf("pipeline: submit: %w", err)
	}
	v.mu.Lock()
	if v.pending[e.id] == e { // its result may be back already
		v.link(e)
	}
	v.mu.Unlock()
	return e.id, nil
}

// room waits until the window has room for one more task, and returns with
// v.mu held.
func (v *Ventilator[T, R]) room(ctx context.Context) error {
	for {
		v.mu.Lock()
		if v.ctx.Err() != nil {
			v.mu.Unlock()
			return ErrClosed
		}
		if len(v.pending) < v.cfg.prefetch*int(v.tasks.Stats().Peers) {
			return nil
		}
		if v.roomCh == nil {
			v.roomCh = make(chan struct{})
		}
		ch := v.roomCh
		v.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("pipeline: submit: %w", ctx.Err())
		case <-v.ctx.Done():
			return ErrClosed
		}
	}
}

// wake wakes the goroutines waiting for a change in the window. Called
// with v.mu held.
func (v *Ventilator[T, R]) wake() {
	if v.roomCh != nil {
		close(v.roomCh)
		v.roomCh = nil
	}
}

func (v *Ventilator[T, R]) send(ctx context.Context, id uint64, hf, payload []byte, attempt int) error {
	// Counted first: the result may be back before SendMsg returns.
	v.st.sent.Add(1)
	if attempt > 1 {
		v.st.reissued.Add(1)
	}
	h := header{epoch: v.epoch, id: id, attempt: uint32(attempt)}
	m := sockets.Msg{Head: h.encode(), Tail: [][]byte{payload}}
	if hf != nil { // obs
		m.Tail = [][]byte{hf, payload}
	}
	if err := v.tasks.SendMsg(ctx, m); err != nil {
		v.st.sent.Add(^uint64(0))
		if attempt > 1 {
			v.st.reissued.Add(^uint64(0))
		}
		return err
	}
	return nil
}

// Wait blocks until every task submitted so far is settled — with a
// result, a worker's error, or ErrGaveUp — as Python's Queue.join does. It
// returns nil then, ctx's error, or ErrClosed.
func (v *Ventilator[T, R]) Wait(ctx context.Context) error {
	v.mu.Lock()
	idle := v.idle
	v.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-v.ctx.Done():
		return ErrClosed
	}
}

// Next returns the next settled task, in the order they settled, waiting
// until there is one, ctx ends or Close (ErrClosed).
func (v *Ventilator[T, R]) Next(ctx context.Context) (Result[T, R], error) {
	for {
		v.mu.Lock()
		if v.ctx.Err() != nil {
			v.mu.Unlock()
			return Result[T, R]{}, ErrClosed
		}
		if len(v.ready) > 0 {
			r := v.ready[0]
			v.ready[0] = Result[T, R]{}
			v.ready = v.ready[1:]
			v.mu.Unlock()
			return r, nil
		}
		if v.readyCh == nil {
			v.readyCh = make(chan struct{})
		}
		ch := v.readyCh
		v.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Result[T, R]{}, ctx.Err()
		case <-v.ctx.Done():
			return Result[T, R]{}, ErrClosed
		}
	}
}

// Drain returns the settled tasks not yet taken, without waiting, and
// forgets them. It works after Close too.
func (v *Ventilator[T, R]) Drain() []Result[T, R] {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.ready
	v.ready = nil
	return out
}

// WaitWorkers blocks until at least n workers are connected to the task
// endpoint, ctx ends or Close.
func (v *Ventilator[T, R]) WaitWorkers(ctx context.Context, n int) error {
	for {
		v.mu.Lock()
		if v.workersCh == nil {
			v.workersCh = make(chan struct{})
		}
		ch := v.workersCh
		v.mu.Unlock()
		if int(v.tasks.Stats().Peers) >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-v.ctx.Done():
			return ErrClosed
		}
	}
}

// Stats returns a snapshot of the counters.
func (v *Ventilator[T, R]) Stats() Stats {
	v.mu.Lock()
	inFlight, ready := len(v.pending), len(v.ready)
	v.mu.Unlock()
	return Stats{
		Submitted: v.st.submitted.Load(), Sent: v.st.sent.Load(), Reissued: v.st.reissued.Load(),
		Completed: v.st.completed.Load(), Failed: v.st.failed.Load(), GaveUp: v.st.gaveUp.Load(),
		Duplicates: v.st.duplicates.Load(), Stray: v.st.stray.Load(),
		InFlight: inFlight, Ready: ready, Workers: int(v.tasks.Stats().Peers),
	}
}

// Close abandons the tasks in flight, closes the sockets at once and wakes
// every blocked call with ErrClosed. It is idempotent.
func (v *Ventilator[T, R]) Close() error {
	v.closeOnce.Do(func() {
		v.cancel()
		_ = v.tasks.Close()
		_ = v.results.Close()
		v.wg.Wait()
	})
	return nil
}

// collect is the sink: it settles each task with the first result for it.
func (v *Ventilator[T, R]) collect() {
	defer v.wg.Done()
	for {
		m, err := v.results.RecvMsg(v.ctx)
		if err != nil {
			return // closed: PULL fails for no other reason
		}
		v.settleFrom(m)
	}
}

func (v *Ventilator[T, R]) settleFrom(m sockets.Msg) {
	if len(m.Tail) != 3 || len(m.Tail[0]) != 1 {
		v.st.stray.Add(1)
		return
	}
	h, ok := parseHeader(m.Head)
	if !ok || h.epoch != v.epoch {
		v.st.stray.Add(1)
		return
	}
	status, body, worker := m.Tail[0][0], m.Tail[1], v.workerName(m.Tail[2])
	var val R
	var rerr error
	switch status {
	case statusOK:
		var err error
		if val, err = codec.Decode(v.rc, body); err != nil {
			rerr = fmt.Errorf("pipeline: result of task %d from worker %q: %w", h.id, worker, err)
		}
	case statusFailed:
		rerr = &TaskError{Worker: worker, Msg: string(body)}
	case statusBadTask:
		rerr = &TaskError{Worker: worker, Msg: string(body), BadTask: true}
	default:
		v.st.stray.Add(1)
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.pending[h.id]
	if e == nil {
		if h.id > 0 && h.id <= v.nextID {
			v.st.duplicates.Add(1)
		} else {
			v.st.stray.Add(1)
		}
		return
	}
	if rerr != nil {
		v.st.failed.Add(1)
	} else {
		v.st.completed.Add(1)
	}
	v.settle(e, Result[T, R]{ID: e.id, Task: e.task, Value: val, Err: rerr, Attempts: e.attempts, Worker: worker})
}

// workerName returns b as a string, without allocating for names seen
// before. Only the collect goroutine calls it.
func (v *Ventilator[T, R]) workerName(b []byte) string {
	if s, ok := v.names[string(b)]; ok {
		return s
	}
	if len(v.names) >= 4096 { // a pool that churns through names: start over
		clear(v.names)
	}
	s := string(b)
	v.names[s] = s
	return s
}

// settle ends e with r. Called with v.mu held.
func (v *Ventilator[T, R]) settle(e *entry[T], r Result[T, R]) {
	v.forget(e)
	if v.cfg.discard {
		return
	}
	v.ready = append(v.ready, r)
	if v.readyCh != nil {
		close(v.readyCh)
		v.readyCh = nil
	}
}

// forget drops e from the outstanding tasks. Called with v.mu held.
func (v *Ventilator[T, R]) forget(e *entry[T]) {
	delete(v.pending, e.id)
	v.wake()
	v.unlink(e)
	e.payload = nil
	if len(v.pending) == 0 {
		close(v.idle)
	}
}

// link starts e's timeout. Called with v.mu held.
func (v *Ventilator[T, R]) link(e *entry[T]) {
	e.deadline = time.Now().Add(v.cfg.taskTimeout)
	e.linked, e.prev, e.next = true, v.tail, nil
	if v.tail != nil {
		v.tail.next = e
	} else {
		v.head = e
		select {
		case v.kick <- struct{}{}:
		default:
		}
	}
	v.tail = e
}

// unlink stops e's timeout. Called with v.mu held.
func (v *Ventilator[T, R]) unlink(e *entry[T]) {
	if !e.linked {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		v.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		v.tail = e.prev
	}
	e.linked, e.prev, e.next = false, nil, nil
}

// reap re-issues the tasks whose timeout passed, and gives up those that
// used their last attempt.
func (v *Ventilator[T, R]) reap() {
	defer v.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	type resend struct {
		e       *entry[T]
		payload []byte
		attempt int
	}
	var due []resend
	for {
		due = due[:0]
		wait := time.Duration(-1)
		v.mu.Lock()
		now := time.Now()
		for e := v.head; e != nil && !now.Before(e.deadline); e = v.head {
			v.unlink(e)
			if e.attempts >= v.cfg.maxAttempts {
				v.st.gaveUp.Add(1)
				v.settle(e, Result[T, R]{ID: e.id, Task: e.task, Attempts: e.attempts,
					Err: fmt.Errorf("%w: task %d, %d attempts of %v", ErrGaveUp, e.id, e.attempts, v.cfg.taskTimeout)})
				continue
			}
			e.attempts++
			due = append(due, resend{e, e.payload, e.attempts})
		}
		if v.head != nil {
			wait = v.head.deadline.Sub(now)
		}
		v.mu.Unlock()

		for i, d := range due {
			v.mu.Lock()
			live := v.pending[d.e.id] == d.e
			v.mu.Unlock()
			if live {
				if err := v.send(v.ctx, d.e.id, d.e.headers, d.payload, d.attempt); err != nil {
					return // closed
				}
				v.mu.Lock()
				if v.pending[d.e.id] == d.e {
					v.link(d.e)
				}
				v.mu.Unlock()
			}
			due[i] = resend{}
		}
		if len(due) > 0 {
			continue // time has passed: look again
		}
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-timer.C:
		case <-v.kick:
		case <-v.ctx.Done():
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

// watch wakes WaitWorkers and Submit on every change in the task socket's
// connections.
func (v *Ventilator[T, R]) watch() {
	defer v.wg.Done()
	for range v.tasks.Events() {
		v.mu.Lock()
		v.wake()
		if v.workersCh != nil {
			close(v.workersCh)
			v.workersCh = nil
		}
		v.mu.Unlock()
	}
}
