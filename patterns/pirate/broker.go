package pirate

import (
	"bytes"
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

// The PPP commands: one frame, one byte.
const (
	cmdReady     = 0x01
	cmdHeartbeat = 0x02
)

var (
	frameReady     = []byte{cmdReady}
	frameHeartbeat = []byte{cmdHeartbeat}
)

// ErrBrokerStarted is returned by Run when the broker has run already.
var ErrBrokerStarted = errors.New("zmqkit: pirate broker: Run called twice")

// BrokerStats is a snapshot of a Broker's state and counters.
type BrokerStats struct {
	Workers     int    // workers known now
	Ready       int    // of them, waiting for a request
	Queued      int    // requests waiting for a worker
	Requests    uint64 // requests received from clients
	Replies     uint64 // replies forwarded to clients
	Requeued    uint64 // requests given back to the queue by a worker that died or failed
	Expired     uint64 // workers dropped for silence (no heartbeat for a liveness window)
	Lost        uint64 // workers dropped because their connection was gone when sent to
	Dropped     uint64 // requests dropped: malformed, past their TTL or their deliveries
	LateReplies uint64 // replies dropped because their worker no longer held the request
}

// Broker is the Paranoid Pirate queue: a frontend ROUTER for clients, a
// backend ROUTER for workers, and in between a queue of requests and a
// least-recently-used queue of ready workers. Create it with NewBroker,
// bind it, then Run it.
type Broker struct {
	cfg   heartbeat.Config
	log   *slog.Logger
	front *sockets.Socket
	back  *sockets.Socket

	started   atomic.Bool
	closeOnce sync.Once

	mu      sync.Mutex
	workers map[string]*brokerWorker
	ready   []*brokerWorker // LRU: the head has waited longest
	queue   []*request      // FIFO, except requeued requests go to the head
	room    chan struct{}   // closed when the queue has room again
	st      BrokerStats
}

type brokerWorker struct {
	id     []byte
	expiry time.Time
	ready  bool
	busy   *request
}

type request struct {
	msg        sockets.Msg // as the frontend received it: client id, …, empty frame, body
	arrived    time.Time
	deliveries int
}

// NewBroker creates a broker. Options: WithHeartbeat, WithMaxQueue,
// WithRequestTTL, WithMaxDeliveries, WithLogger, WithSocketOptions.
func NewBroker(opts ...BrokerOption) (*Broker, error) {
	cfg, err := heartbeat.Broker(defaults, opts)
	if err != nil {
		return nil, err
	}
	front, err := sockets.NewRouter(cfg.SocketOptions(sockets.WithLinger(time.Second))...)
	if err != nil {
		return nil, err
	}
	// Mandatory: a send to a worker whose connection is gone fails at once,
	// so the broker learns of a dead worker before its heartbeats run out.
	back, err := sockets.NewRouter(cfg.SocketOptions(sockets.WithLinger(time.Second),
		sockets.WithRouterMandatory(true), sockets.WithRouterHandover(true))...)
	if err != nil {
		front.Close()
		return nil, err
	}
	return &Broker{
		cfg: cfg, log: cfg.Logger, front: front, back: back,
		workers: make(map[string]*brokerWorker),
	}, nil
}

// BindFrontend listens for clients on endpoint and returns it as bound.
// It may be called for several endpoints.
func (b *Broker) BindFrontend(endpoint string) (string, error) { return b.front.Listen(endpoint) }

// BindBackend listens for workers on endpoint and returns it as bound. It
// may be called for several endpoints.
func (b *Broker) BindBackend(endpoint string) (string, error) { return b.back.Listen(endpoint) }

// Run serves until ctx ends or Close is called, then closes the broker's
// sockets and returns why it stopped: ctx's cause, or an error matching
// sockets.ErrClosed after Close. A broker runs once.
func (b *Broker) Run(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return ErrBrokerStarted
	}
	defer b.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); cancel(b.serveFrontend(ctx)) }()
	go func() { defer wg.Done(); cancel(b.serveBackend(ctx)) }()
	go func() { defer wg.Done(); b.tick(ctx) }()
	<-ctx.Done()
	wg.Wait()
	return context.Cause(ctx)
}

// Close closes the broker's sockets; a running Run returns. It is idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.front.Close()
		b.back.Close()
	})
	return nil
}

// Stats returns a snapshot of the broker's state and counters.
func (b *Broker) Stats() BrokerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.st
	st.Workers, st.Ready, st.Queued = len(b.workers), len(b.ready), len(b.queue)
	return st
}

func (b *Broker) serveFrontend(ctx context.Context) error {
	for {
		if err := b.waitRoom(ctx); err != nil {
			return err
		}
		m, err := b.front.RecvMsg(ctx)
		if err != nil {
			return err
		}
		b.mu.Lock()
		b.onRequest(m)
		b.mu.Unlock()
	}
}

func (b *Broker) serveBackend(ctx context.Context) error {
	for {
		m, err := b.back.RecvMsg(ctx)
		if err != nil {
			return err
		}
		b.mu.Lock()
		b.onWorker(m)
		b.mu.Unlock()
	}
}

// tick heartbeats the workers and expires old requests once per heartbeat
// interval, and forgets each silent worker as soon as its liveness window
// has passed: the timer is set for whichever comes first.
func (b *Broker) tick(ctx context.Context) {
	heartbeat.Tick(ctx, b.cfg.Heartbeat, func(now time.Time, beat bool, nextBeat time.Time) time.Time {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.housekeep(now, beat, nextBeat)
	})
}

// waitRoom blocks while the request queue is full.
func (b *Broker) waitRoom(ctx context.Context) error {
	for {
		b.mu.Lock()
		if b.cfg.MaxQueue == 0 || len(b.queue) < b.cfg.MaxQueue {
			b.mu.Unlock()
			return nil
		}
		if b.room == nil {
			b.room = make(chan struct{})
		}
		ch := b.room
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// The methods below run with b.mu held.

func (b *Broker) onRequest(m sockets.Msg) {
	b.st.Requests++
	if !hasBody(m.Tail) {
		b.st.Dropped++ // no envelope delimiter, or nothing after it
		return
	}
	b.queue = append(b.queue, &request{msg: m, arrived: time.Now()})
	b.dispatch()
}

// hasBody reports whether frames hold an empty delimiter with at least one
// frame after it.
func hasBody(frames [][]byte) bool {
	for i, f := range frames {
		if len(f) == 0 {
			return i < len(frames)-1
		}
	}
	return false
}

func (b *Broker) onWorker(m sockets.Msg) {
	id := m.Head
	w := b.workers[string(id)]
	if len(m.Tail) == 1 && len(m.Tail[0]) == 1 {
		switch m.Tail[0][0] {
		case cmdReady:
			if w == nil {
				w = &brokerWorker{id: id}
				b.workers[string(id)] = w
				b.log.Debug("pirate: worker ready", "worker", fmt.Sprintf("%q", id))
			} else if w.busy != nil {
				// A new conversation from a busy worker: it restarted, or
				// gave up on its request.
				r := w.busy
				w.busy = nil
				b.requeue(r)
			}
			w.expiry = time.Now().Add(b.cfg.Window())
			b.setReady(w)
			b.dispatch()
			if w.ready {
				// No request for it yet: a heartbeat at once tells the
				// worker it is heard, before its first silence check.
				b.heartbeat(w)
			}
			return
		case cmdHeartbeat:
			// A worker we gave up on is not answered: it hears no
			// heartbeats from us and reconnects with READY.
			if w != nil {
				w.expiry = time.Now().Add(b.cfg.Window())
			}
			return
		}
	}
	// A reply: client envelope, empty frame, body.
	if w != nil {
		w.expiry = time.Now().Add(b.cfg.Window())
	}
	if w == nil || w.busy == nil || !hasBody(m.Tail) || !bytes.Equal(m.Tail[0], w.busy.msg.Head) {
		b.st.LateReplies++
		return
	}
	w.busy = nil
	// The frontend drops a reply for a client that is gone: nothing to do.
	_ = b.front.TrySendMsg(sockets.Msg{Head: m.Tail[0], Tail: m.Tail[1:]})
	b.st.Replies++
	b.setReady(w)
	b.dispatch()
}

func (b *Broker) setReady(w *brokerWorker) {
	if !w.ready {
		w.ready = true
		b.ready = append(b.ready, w)
	}
}

// dispatch gives queued requests to ready workers, longest-waiting first.
func (b *Broker) dispatch() {
	for len(b.ready) > 0 && len(b.queue) > 0 {
		w := b.ready[0]
		b.ready[0] = nil
		b.ready = b.ready[1:]
		w.ready = false
		r := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		if err := b.back.TrySendMsg(r.msg.Prepend(w.id)); err != nil {
			b.queue = append([]*request{r}, b.queue...)
			b.remove(w, "unreachable", err)
			b.st.Lost++
			continue
		}
		r.deliveries++
		w.busy = r
	}
	b.signalRoom()
}

func (b *Broker) signalRoom() {
	if b.room != nil && (b.cfg.MaxQueue == 0 || len(b.queue) < b.cfg.MaxQueue) {
		close(b.room)
		b.room = nil
	}
}

// requeue puts a request a worker lost back at the head of the queue,
// unless it has had its deliveries.
func (b *Broker) requeue(r *request) {
	if r.deliveries >= b.cfg.MaxDeliveries {
		b.st.Dropped++
		b.log.Warn("pirate: request dropped after its deliveries", "deliveries", r.deliveries)
		return
	}
	b.st.Requeued++
	b.queue = append([]*request{r}, b.queue...)
}

// remove forgets a worker and requeues what it held.
func (b *Broker) remove(w *brokerWorker, why string, err error) {
	delete(b.workers, string(w.id))
	if w.ready {
		for i, x := range b.ready {
			if x == w {
				b.ready = append(b.ready[:i], b.ready[i+1:]...)
				break
			}
		}
		w.ready = false
	}
	b.log.Info("pirate: worker dropped", "worker", fmt.Sprintf("%q", w.id), "why", why, "err", err)
	if w.busy != nil {
		r := w.busy
		w.busy = nil
		b.requeue(r)
	}
}

// heartbeat sends w a HEARTBEAT, and forgets w if its connection is gone.
func (b *Broker) heartbeat(w *brokerWorker) {
	err := b.back.TrySendMsg(sockets.Msg{Head: w.id, Tail: [][]byte{frameHeartbeat}})
	if errors.Is(err, sockets.ErrHostUnreachable) {
		b.remove(w, "unreachable", err)
		b.st.Lost++
	} // any other error: its pipe is full, it is not reading; its expiry will tell
}

// housekeep forgets workers whose liveness window has passed and, on a
// beat, heartbeats the others and expires old requests. It returns when it
// next has something to do.
func (b *Broker) housekeep(now time.Time, beat bool, next time.Time) time.Time {
	for _, w := range b.workers {
		if now.After(w.expiry) {
			b.remove(w, "silent", nil)
			b.st.Expired++
			continue
		}
		if beat {
			b.heartbeat(w)
		}
	}
	for _, w := range b.workers {
		if w.expiry.Before(next) {
			next = w.expiry.Add(time.Millisecond)
		}
	}
	if ttl := b.cfg.RequestTTL; beat && ttl > 0 {
		kept := b.queue[:0]
		for _, r := range b.queue {
			if now.Sub(r.arrived) > ttl {
				b.st.Dropped++
				continue
			}
			kept = append(kept, r)
		}
		clear(b.queue[len(kept):])
		b.queue = kept
	}
	b.dispatch()
	return next
}
