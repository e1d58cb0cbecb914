package pirate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/patterns/internal/heartbeat"
	"github.com/zmqkit/zmqkit/sockets"
)

// Handler serves one request: it gets the request's frames and returns the
// reply's. ctx ends when the worker stops or loses its broker; the reply is
// then not sent. An error means the request could not be served here: the
// worker announces READY again and the broker gives the request to another
// worker (see WithMaxDeliveries).
type Handler func(ctx context.Context, request [][]byte) ([][]byte, error)

// ErrWorkerStarted is returned by Run when the worker is running already.
var ErrWorkerStarted = errors.New("zmqkit: pirate worker: already running")

// WorkerStats is a snapshot of a Worker's counters.
type WorkerStats struct {
	Requests   uint64 // requests handed to the Handler
	Replies    uint64 // replies sent
	Failures   uint64 // requests whose Handler returned an error
	Reconnects uint64 // times the worker gave up on its connection and made a new one
}

// Worker serves requests from a Broker's backend, one at a time, and
// heartbeats it. Create it with NewWorker and Run it.
type Worker struct {
	endpoint string
	h        Handler
	cfg      heartbeat.Config
	log      *slog.Logger
	running  atomic.Bool

	requests, replies, failures, reconnects atomic.Uint64
}

// NewWorker creates a worker for the broker backend at endpoint. Options:
// WithHeartbeat, WithReconnect, WithIdentity, WithLogger, WithSocketOptions.
func NewWorker(endpoint string, h Handler, opts ...WorkerOption) (*Worker, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: pirate worker: nil handler", sockets.ErrBadOption)
	}
	cfg, err := heartbeat.Worker(defaults, opts)
	if err != nil {
		return nil, err
	}
	return &Worker{endpoint: endpoint, h: h, cfg: cfg, log: cfg.Logger}, nil
}

// Stats returns a snapshot of the worker's counters.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{
		Requests: w.requests.Load(), Replies: w.replies.Load(),
		Failures: w.failures.Load(), Reconnects: w.reconnects.Load(),
	}
}

// Run serves until ctx ends and returns ctx's cause, or returns at once
// with an error if the worker's socket cannot be made (a bad endpoint).
// When the broker stays silent for a liveness window, Run closes its
// socket, waits, and connects again on a new one; the wait starts at the
// initial reconnect interval and doubles up to its cap while the broker
// stays away. Run waits for a running Handler to return before it returns.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrWorkerStarted
	}
	defer w.running.Store(false)
	backoff := heartbeat.NewBackoff(w.cfg.Reconnect, w.cfg.ReconnectMax)
	for {
		heard, err := w.session(ctx)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err != nil {
			return err
		}
		if heard {
			backoff.Reset()
		}
		w.reconnects.Add(1)
		w.log.Warn("pirate: broker silent, reconnecting", "endpoint", w.endpoint, "after", backoff.Next())
		if err := backoff.Wait(ctx); err != nil {
			return err
		}
	}
}

// session is one connection's life: READY, then requests and heartbeats
// until the broker falls silent or ctx ends. It reports whether the broker
// was heard at all.
func (w *Worker) session(ctx context.Context) (bool, error) {
	sock, err := w.cfg.DialWorker(w.endpoint, 0)
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		sock.Close()
		wg.Wait()
	}()

	live := heartbeat.NewLiveness(w.cfg.Window())
	var busy atomic.Bool
	jobs := make(chan sockets.Msg, 1)

	send := func(m sockets.Msg) {
		sendCtx, done := context.WithTimeout(sctx, w.cfg.Heartbeat)
		defer done()
		if err := sock.SendMsg(sendCtx, m); err != nil && sctx.Err() == nil {
			w.log.Debug("pirate: worker send failed", "err", err)
		}
	}
	send(sockets.Msg{Head: frameReady})

	wg.Add(1)
	go func() { defer wg.Done(); live.Watch(sctx, sock.Events()) }()
	wg.Add(2)
	go func() { // reader
		defer wg.Done()
		for {
			m, err := sock.RecvMsg(sctx)
			if err != nil {
				return
			}
			live.Heard()
			if len(m.Tail) == 0 {
				continue // HEARTBEAT (or a stray one-frame message)
			}
			if !hasBody(m.Tail) || !busy.CompareAndSwap(false, true) {
				w.log.Warn("pirate: worker dropped an unexpected message", "frames", m.Len())
				continue
			}
			jobs <- m // cannot block: busy admits one job at a time
		}
	}()
	go func() { // handler
		defer wg.Done()
		for {
			select {
			case <-sctx.Done():
				return
			case m := <-jobs:
				out, ok := w.serve(sctx, m)
				// Free before sending: the broker may answer the reply
				// with the next request at once.
				busy.Store(false)
				if ok {
					send(out)
				}
			}
		}
	}()

	t := time.NewTicker(w.cfg.Heartbeat)
	defer t.Stop()
	silence := live.Silence()
	defer silence.Stop()
	for {
		select {
		case <-sctx.Done():
			return live.EverHeard(), nil
		case <-silence.C:
			if silence.Dead() {
				return live.EverHeard(), nil
			}
		case <-t.C:
			send(sockets.Msg{Head: frameHeartbeat})
		}
	}
}

// serve runs the handler on one request (envelope, empty frame, body) and
// returns what to send: the reply, or READY if the handler failed. It
// returns false when there is nobody to send to any more.
func (w *Worker) serve(ctx context.Context, m sockets.Msg) (sockets.Msg, bool) {
	frames := m.Frames()
	split := 0
	for split < len(frames) && len(frames[split]) != 0 {
		split++
	}
	env, body := frames[:split+1], frames[split+1:]
	w.requests.Add(1)
	reply, err := w.h(ctx, body)
	if ctx.Err() != nil {
		return sockets.Msg{}, false // lost the broker or stopping
	}
	if err != nil {
		w.failures.Add(1)
		w.log.Warn("pirate: handler failed", "err", err)
		return sockets.Msg{Head: frameReady}, true
	}
	if len(reply) == 0 {
		reply = [][]byte{{}}
	}
	w.replies.Add(1)
	out := make([][]byte, 0, len(env)+len(reply))
	out = append(append(out, env...), reply...)
	return sockets.Msg{Head: out[0], Tail: out[1:]}, true
}
