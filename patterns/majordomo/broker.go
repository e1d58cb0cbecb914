package majordomo

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

// ErrBrokerStarted is returned by Run when the broker has run already.
var ErrBrokerStarted = errors.New("zmqkit: majordomo broker: Run called twice")

// BrokerStats is a snapshot of a Broker's state and counters.
type BrokerStats struct {
	Workers     int    // workers registered now
	Services    int    // services with a worker or a queued request now
	Queued      int    // requests waiting for a worker now
	Requests    uint64 // client requests received (MMI included)
	Replies     uint64 // worker replies forwarded to clients
	MMI         uint64 // requests answered by the broker itself (mmi.*)
	Requeued    uint64 // requests given back to their queue by a worker that went away
	Expired     uint64 // workers dropped for silence (no message for a liveness window)
	Lost        uint64 // workers dropped because their connection was gone when sent to
	Dropped     uint64 // requests dropped: queue full, past their TTL or their deliveries
	Malformed   uint64 // messages dropped as not MDP/0.1
	Disconnects uint64 // DISCONNECT commands sent to workers
}

// Broker is the Majordomo broker: one ROUTER socket for clients and
// workers, a request queue and a queue of free workers per service.
// Create it with NewBroker, Bind it, then Run it.
type Broker struct {
	cfg  heartbeat.Config
	log  *slog.Logger
	sock *sockets.Socket

	started   atomic.Bool
	closeOnce sync.Once

	mu       sync.Mutex
	services map[string]*service
	workers  map[string]*brokerWorker
	queued   int
	st       BrokerStats
}

type service struct {
	name     string
	nameB    []byte
	requests []*request      // FIFO, except requeued requests go to the head
	waiting  []*brokerWorker // free workers, least recently used first
	workers  int
}

type brokerWorker struct {
	id       []byte
	svc      *service
	expiry   time.Time
	lastSent time.Time
	waiting  bool
	busy     *request
}

type request struct {
	client     []byte
	body       [][]byte
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
	// Mandatory: a send to a peer whose connection is gone fails at once,
	// so a dead worker is noticed before its heartbeats run out. Handover:
	// a restarted peer may take its old routing id back.
	s, err := sockets.NewRouter(cfg.SocketOptions(sockets.WithLinger(time.Second),
		sockets.WithRouterMandatory(true), sockets.WithRouterHandover(true))...)
	if err != nil {
		return nil, err
	}
	return &Broker{
		cfg: cfg, log: cfg.Logger, sock: s,
		services: make(map[string]*service),
		workers:  make(map[string]*brokerWorker),
	}, nil
}

// Bind listens on endpoint (tcp://, ipc://, inproc://) for clients and
// workers alike and returns it as bound. It may be called for several
// endpoints.
func (b *Broker) Bind(endpoint string) (string, error) { return b.sock.Listen(endpoint) }

// Run serves until ctx ends or Close is called, then closes the broker's
// socket and returns why it stopped: ctx's cause, or an error matching
// sockets.ErrClosed after Close. A broker runs once.
func (b *Broker) Run(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return ErrBrokerStarted
	}
	defer b.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() { defer close(done); b.tick(ctx) }()
	for {
		m, err := b.sock.RecvMsg(ctx)
		if err != nil {
			cancel(err)
			break
		}
		b.mu.Lock()
		b.handle(m)
		b.mu.Unlock()
	}
	<-done
	return context.Cause(ctx)
}

// DisconnectPeers drops the connections of the clients and workers for
// which drop returns true (see sockets.Socket.DisconnectPeers), say those
// whose CURVE key has just been revoked, and returns how many it dropped.
// A dropped worker is forgotten at the next message the broker has for
// it, as one whose connection broke.
func (b *Broker) DisconnectPeers(drop func(sockets.Peer) bool) int {
	return b.sock.DisconnectPeers(drop)
}

// Close closes the broker's socket; a running Run returns. It is idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { b.sock.Close() })
	return nil
}

// Stats returns a snapshot of the broker's state and counters.
func (b *Broker) Stats() BrokerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.st
	st.Workers, st.Services, st.Queued = len(b.workers), len(b.services), b.queued
	return st
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

// The methods below run with b.mu held.

func (b *Broker) handle(m sockets.Msg) {
	sender, f := m.Head, m.Tail
	if len(f) < 2 || len(f[0]) != 0 {
		b.st.Malformed++
		return
	}
	switch string(f[1]) {
	case ClientHeader:
		b.onClient(sender, f)
	case WorkerHeader:
		b.onWorker(sender, f)
	default:
		b.st.Malformed++
	}
}

// onClient takes "" | MDPC01 | service | body….
func (b *Broker) onClient(client []byte, f [][]byte) {
	if len(f) < 4 {
		b.st.Malformed++
		return
	}
	b.st.Requests++
	name := string(f[2])
	if isMMI(name) {
		b.st.MMI++
		b.send(client, [][]byte{{}, clientHeader, f[2], []byte(b.mmi(name, f[3:]))})
		return
	}
	if b.cfg.MaxQueue > 0 && b.queued >= b.cfg.MaxQueue {
		b.st.Dropped++
		return
	}
	s := b.service(name)
	s.requests = append(s.requests, &request{client: client, body: f[3:], arrived: time.Now()})
	b.queued++
	b.dispatch(s)
}

// mmi answers the broker's own services (8/MMI).
func (b *Broker) mmi(name string, body [][]byte) string {
	if name != MMIService {
		return MMINotImplemented
	}
	if s := b.services[string(body[0])]; s != nil && s.workers > 0 {
		return MMIFound
	}
	return MMINotFound
}

func (b *Broker) service(name string) *service {
	s := b.services[name]
	if s == nil {
		s = &service{name: name, nameB: []byte(name)}
		b.services[name] = s
	}
	return s
}

// onWorker takes "" | MDPW01 | command | ….
func (b *Broker) onWorker(sender []byte, f [][]byte) {
	cmd := workerCmd(f)
	w := b.workers[string(sender)]
	if w != nil && cmd != CmdDisconnect {
		w.expiry = time.Now().Add(b.cfg.Window()) // any command is a heartbeat
	}
	switch cmd {
	case CmdReady:
		switch {
		case w != nil:
			b.disconnect(w, "READY from a registered worker")
		case len(f) != 4 || len(f[3]) == 0:
			b.st.Malformed++
			b.sendDisconnect(sender)
		case isMMI(string(f[3])):
			b.log.Warn("majordomo: worker tried to register an mmi. service", "service", string(f[3]))
			b.sendDisconnect(sender)
		default:
			s := b.service(string(f[3]))
			w = &brokerWorker{id: sender, svc: s, expiry: time.Now().Add(b.cfg.Window()), lastSent: time.Now()}
			b.workers[string(sender)] = w
			s.workers++
			b.log.Debug("majordomo: worker ready", "worker", fmt.Sprintf("%q", sender), "service", s.name)
			b.wait(w)
			b.dispatch(s)
			if w.waiting {
				// No request for it yet: a heartbeat at once tells the
				// worker it is heard, before its first silence check.
				b.heartbeat(w, time.Now())
			}
		}
	case CmdReply:
		switch {
		case w == nil:
			b.sendDisconnect(sender)
		case w.busy == nil:
			b.disconnect(w, "REPLY with no request")
		case len(f) < 6 || len(f[4]) != 0 || !bytes.Equal(f[3], w.busy.client):
			b.st.Malformed++
			b.disconnect(w, "malformed REPLY")
		default:
			r := w.busy
			w.busy = nil
			out := make([][]byte, 0, 3+len(f)-5)
			out = append(out, []byte{}, clientHeader, w.svc.nameB)
			b.send(r.client, append(out, f[5:]...)) // a client that is gone: nothing to do
			b.st.Replies++
			b.wait(w)
			b.dispatch(w.svc)
		}
	case CmdHeartbeat:
		if w == nil {
			b.sendDisconnect(sender)
		}
	case CmdDisconnect:
		if w != nil {
			b.remove(w, "disconnected", nil)
		}
	case CmdRequest:
		if w != nil {
			b.disconnect(w, "REQUEST from a worker")
		} else {
			b.sendDisconnect(sender)
		}
	default:
		// Not a worker command at all: drop it, and the peer with it.
		b.st.Malformed++
		if w != nil {
			b.disconnect(w, "malformed command")
		}
	}
}

// send routes frames to a peer without waiting.
func (b *Broker) send(to []byte, frames [][]byte) error {
	return b.sock.TrySendMsg(sockets.Msg{Head: to, Tail: frames})
}

func (b *Broker) sendDisconnect(to []byte) {
	b.st.Disconnects++
	_ = b.send(to, [][]byte{{}, workerHeader, cmdFrames[CmdDisconnect]})
}

// disconnect tells a worker to go (the spec's answer to an unexpected
// command) and forgets it.
func (b *Broker) disconnect(w *brokerWorker, why string) {
	b.sendDisconnect(w.id)
	b.remove(w, why, nil)
}

func (b *Broker) wait(w *brokerWorker) {
	if !w.waiting {
		w.waiting = true
		w.svc.waiting = append(w.svc.waiting, w)
	}
}

// dispatch gives s's queued requests to its free workers.
func (b *Broker) dispatch(s *service) {
	for len(s.waiting) > 0 && len(s.requests) > 0 {
		w := s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		w.waiting = false
		r := s.requests[0]
		s.requests[0] = nil
		s.requests = s.requests[1:]
		b.queued--
		out := make([][]byte, 0, 5+len(r.body))
		out = append(out, []byte{}, workerHeader, cmdFrames[CmdRequest], r.client, []byte{})
		if err := b.send(w.id, append(out, r.body...)); err != nil {
			s.requests = append([]*request{r}, s.requests...)
			b.queued++
			b.st.Lost++
			b.remove(w, "unreachable", err)
			continue
		}
		r.deliveries++
		w.busy = r
		w.lastSent = time.Now()
	}
	b.gc(s)
}

// requeue puts a request a worker lost back at the head of its queue,
// unless it has had its deliveries.
func (b *Broker) requeue(s *service, r *request) {
	if r.deliveries >= b.cfg.MaxDeliveries {
		b.st.Dropped++
		b.log.Warn("majordomo: request dropped after its deliveries", "service", s.name, "deliveries", r.deliveries)
		return
	}
	b.st.Requeued++
	s.requests = append([]*request{r}, s.requests...)
	b.queued++
}

// remove forgets a worker; its request goes to another worker.
func (b *Broker) remove(w *brokerWorker, why string, err error) {
	delete(b.workers, string(w.id))
	s := w.svc
	s.workers--
	if w.waiting {
		for i, x := range s.waiting {
			if x == w {
				s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
				break
			}
		}
		w.waiting = false
	}
	b.log.Info("majordomo: worker dropped", "worker", fmt.Sprintf("%q", w.id), "service", s.name, "why", why, "err", err)
	if w.busy != nil {
		r := w.busy
		w.busy = nil
		b.requeue(s, r)
		b.dispatch(s)
	}
	b.gc(s)
}

// gc forgets a service with neither workers nor requests, so that clients
// naming services at random cannot grow the broker.
func (b *Broker) gc(s *service) {
	if s.workers == 0 && len(s.requests) == 0 && b.services[s.name] == s {
		delete(b.services, s.name)
	}
}

// heartbeat sends w a HEARTBEAT, and forgets w if its connection is gone.
func (b *Broker) heartbeat(w *brokerWorker, now time.Time) {
	err := b.send(w.id, [][]byte{{}, workerHeader, cmdFrames[CmdHeartbeat]})
	if errors.Is(err, sockets.ErrHostUnreachable) {
		b.st.Lost++
		b.remove(w, "unreachable", err)
		return
	}
	w.lastSent = now
}

// housekeep forgets workers whose liveness window has passed and, on a
// beat, heartbeats the others and expires old requests. It returns when it
// next has something to do.
func (b *Broker) housekeep(now time.Time, beat bool, next time.Time) time.Time {
	for _, w := range b.workers {
		if now.After(w.expiry) {
			b.st.Expired++
			b.remove(w, "silent", nil)
			continue
		}
		// Heartbeat a worker that has been sent nothing for half an interval.
		if beat && now.Sub(w.lastSent) >= b.cfg.Heartbeat/2 {
			b.heartbeat(w, now)
		}
	}
	for _, w := range b.workers {
		if w.expiry.Before(next) {
			next = w.expiry.Add(time.Millisecond)
		}
	}
	if ttl := b.cfg.RequestTTL; beat && ttl > 0 {
		for _, s := range b.services {
			kept := s.requests[:0]
			for _, r := range s.requests {
				if now.Sub(r.arrived) > ttl {
					b.st.Dropped++
					b.queued--
					continue
				}
				kept = append(kept, r)
			}
			clear(s.requests[len(kept):])
			s.requests = kept
			b.gc(s)
		}
	}
	return next
}
