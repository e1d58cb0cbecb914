package majordomo

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

// Handler serves one request: it gets the request body's frames and
// returns the reply body's (none: one empty frame). ctx ends when the
// worker stops or loses its broker; the reply is then not sent.
//
// MDP has no error reply: encode application errors in the reply. An
// error returned here means the request could not be served by this
// worker: it sends DISCONNECT, registers again on a new connection, and
// the broker gives the request to another worker (see WithMaxDeliveries).
type Handler func(ctx context.Context, request [][]byte) ([][]byte, error)

// ErrWorkerStarted is returned by Run when the worker is running already.
var ErrWorkerStarted = errors.New("zmqkit: majordomo worker: already running")

// WorkerStats is a snapshot of a Worker's counters.
type WorkerStats struct {
	Requests    uint64 // requests handed to the Handler
	Replies     uint64 // replies sent
	Failures    uint64 // requests whose Handler returned an error
	Reconnects  uint64 // times the worker made a new connection after losing one
	Disconnects uint64 // DISCONNECT commands received from the broker
}

// Worker serves one service for a Broker, one request at a time, and
// heartbeats it. Create it with NewWorker and Run it.
type Worker struct {
	endpoint string
	service  string
	h        Handler
	cfg      heartbeat.Config
	log      *slog.Logger
	running  atomic.Bool

	requests, replies, failures, reconnects, disconnects atomic.Uint64
}

// NewWorker creates a worker of service for the broker at endpoint.
// Options: WithHeartbeat, WithReconnect, WithIdentity, WithLogger,
// WithSocketOptions.
func NewWorker(endpoint, service string, h Handler, opts ...WorkerOption) (*Worker, error) {
	switch {
	case h == nil:
		return nil, fmt.Errorf("%w: majordomo worker: nil handler", sockets.ErrBadOption)
	case service == "" || isMMI(service):
		return nil, fmt.Errorf("%w: majordomo worker: service name %q is empty or reserved", sockets.ErrBadOption, service)
	}
	cfg, err := heartbeat.Worker(defaults, opts)
	if err != nil {
		return nil, err
	}
	return &Worker{endpoint: endpoint, service: service, h: h, cfg: cfg, log: cfg.Logger}, nil
}

// Stats returns a snapshot of the worker's counters.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{
		Requests: w.requests.Load(), Replies: w.replies.Load(), Failures: w.failures.Load(),
		Reconnects: w.reconnects.Load(), Disconnects: w.disconnects.Load(),
	}
}

// how a session ended
type ending int

const (
	endStopped      ending = iota // ctx ended
	endSilent                     // the broker stayed silent for a liveness window
	endDisconnected               // the broker sent DISCONNECT
	endFailed                     // the handler failed; we sent DISCONNECT
)

// Run serves until ctx ends, then sends DISCONNECT and returns ctx's cause;
// it returns at once with an error if its socket cannot be made (a bad
// endpoint). When the broker stays silent for a liveness window or sends
// DISCONNECT, Run closes its socket, waits, and registers again on a new
// one; the wait starts at the initial reconnect interval and doubles up to
// its cap while the broker stays away. After a Handler error it registers
// again at once. Run waits for a running Handler to return.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrWorkerStarted
	}
	defer w.running.Store(false)
	backoff := heartbeat.NewBackoff(w.cfg.Reconnect, w.cfg.ReconnectMax)
	for {
		end, heard, err := w.session(ctx)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err != nil {
			return err
		}
		w.reconnects.Add(1)
		if heard {
			backoff.Reset()
		}
		if end == endFailed {
			continue
		}
		w.log.Warn("majordomo: lost the broker, reconnecting", "endpoint", w.endpoint,
			"service", w.service, "disconnected", end == endDisconnected, "after", backoff.Next())
		if err := backoff.Wait(ctx); err != nil {
			return err
		}
	}
}

// session is one connection's life: READY, then requests and heartbeats
// until it ends. It reports how, and whether the broker was heard at all.
func (w *Worker) session(ctx context.Context) (ending, bool, error) {
	// A short linger lets a final DISCONNECT out without holding Close up
	// for long when the broker is gone.
	sock, err := w.cfg.DialWorker(w.endpoint, min(w.cfg.Heartbeat, time.Second))
	if err != nil {
		return endStopped, false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		sock.Close()
	}()

	live := heartbeat.NewLiveness(w.cfg.Window())
	var busy atomic.Bool
	jobs := make(chan [][]byte, 1)
	ended := make(chan ending, 2)
	send := func(frames ...[]byte) {
		sendCtx, done := context.WithTimeout(sctx, w.cfg.Heartbeat)
		defer done()
		if err := sock.Send(sendCtx, frames...); err != nil && sctx.Err() == nil {
			w.log.Debug("majordomo: worker send failed", "err", err)
		}
	}
	send([]byte{}, workerHeader, cmdFrames[CmdReady], []byte(w.service))

	wg.Add(1)
	go func() { defer wg.Done(); live.Watch(sctx, sock.Events()) }()
	wg.Add(2)
	go func() { // reader
		defer wg.Done()
		for {
			f, err := sock.Recv(sctx)
			if err != nil {
				return
			}
			cmd := workerCmd(f)
			if cmd == 0 {
				w.log.Warn("majordomo: worker dropped a malformed message", "frames", len(f))
				continue
			}
			live.Heard()
			switch cmd {
			case CmdRequest:
				if len(f) < 6 || len(f[4]) != 0 || !busy.CompareAndSwap(false, true) {
					w.log.Warn("majordomo: worker dropped an unexpected request", "frames", len(f))
					continue
				}
				jobs <- f // cannot block: busy admits one job at a time
			case CmdDisconnect:
				w.disconnects.Add(1)
				ended <- endDisconnected
				return
			}
		}
	}()
	go func() { // handler
		defer wg.Done()
		for {
			select {
			case <-sctx.Done():
				return
			case f := <-jobs:
				reply, ok := w.serve(sctx, f, sock.HeadersEnabled())
				busy.Store(false) // before replying: the next request may follow at once
				switch {
				case reply != nil:
					send(reply...)
				case ok:
					send([]byte{}, workerHeader, cmdFrames[CmdDisconnect])
					ended <- endFailed
					return
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
		case <-ctx.Done():
			// Tell the broker at once rather than leave it to time us out.
			send([]byte{}, workerHeader, cmdFrames[CmdDisconnect])
			return endStopped, live.EverHeard(), nil
		case e := <-ended:
			return e, live.EverHeard(), nil
		case <-silence.C:
			if silence.Dead() {
				return endSilent, live.EverHeard(), nil
			}
		case <-t.C:
			send([]byte{}, workerHeader, cmdFrames[CmdHeartbeat])
		}
	}
}

// serve runs the handler on a REQUEST and returns the REPLY to send; nil
// and true if the handler failed, nil and false if there is nobody to
// reply to any more.
func (w *Worker) serve(ctx context.Context, f [][]byte, headers bool) ([][]byte, bool) {
	client := f[3]
	w.requests.Add(1)
	req := f[5:]
	// obs: a header frame in front of the body (the client's context
	// headers) goes into the handler's context; a worker whose socket was
	// not made sockets.WithHeaders refuses the request rather than hand
	// the handler a frame it does not expect.
	if len(req) > 1 && sockets.IsHeaderFrame(req[0]) {
		hd, err := sockets.ReadHeaders(req[0], headers)
		if err != nil {
			w.failures.Add(1)
			w.log.Warn("majordomo: request refused", "service", w.service, "err", err)
			return nil, true
		}
		ctx, req = sockets.ContextWithHeaders(ctx, hd), req[1:]
	}
	body, err := w.h(ctx, req)
	if ctx.Err() != nil {
		return nil, false
	}
	if err != nil {
		w.failures.Add(1)
		w.log.Warn("majordomo: handler failed", "service", w.service, "err", err)
		return nil, true
	}
	if len(body) == 0 {
		body = [][]byte{{}}
	}
	w.replies.Add(1)
	out := make([][]byte, 0, 5+len(body))
	out = append(out, []byte{}, workerHeader, cmdFrames[CmdReply], client, []byte{})
	return append(out, body...), true
}
