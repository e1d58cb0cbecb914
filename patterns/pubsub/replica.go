package pubsub

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// ReplicaStats is a snapshot of a Replica's counters.
type ReplicaStats struct {
	Snapshots uint64 // snapshots applied
	Resyncs   uint64 // snapshots asked for after the first
	Gaps      uint64 // gaps found in the sequence
	Lost      uint64 // messages those gaps held
	Applied   uint64 // live updates applied
	Skipped   uint64 // updates already in the state (older than the snapshot, replays)
	Malformed uint64 // messages or values that did not parse
	Updates   sockets.Stats
}

// Replica keeps a copy of a Publisher's state: the ZeroMQ guide's Clone
// pattern, without persistence. It subscribes to all of the publisher's
// updates, asks the publisher's snapshot endpoint for the state and the seq
// it corresponds to, holds the updates that arrive meanwhile, and then
// applies those newer than the snapshot, in sequence. From then on it
// applies each update whose seq follows the last one. When it finds a gap
// (it was too slow and lost messages, which a heartbeat reveals even at the
// end of a burst) or a new publisher instance, it throws the state away and
// starts again from a fresh snapshot, calling WithOnResync's function.
//
// A Replica follows one Publisher and all of its topics. To replicate part
// of a larger state, give that part a Publisher of its own.
type Replica[T any] struct {
	c        codec.Codec[T]
	cfg      config
	sub      *sockets.Socket // SUB, everything
	snap     *sockets.Socket // DEALER to the snapshot ROUTER
	onUpdate func(Update[T])

	mu        sync.Mutex
	state     map[string]T
	publisher uint64
	seq       uint64
	synced    bool
	changed   chan struct{} // closed on the next change; nil when nobody waits

	running                                        atomic.Bool
	snapshots, resyncs, gaps, lost, applied, skips atomic.Uint64
	malformed                                      atomic.Uint64
}

// NewReplica creates a Replica that decodes values with c. Options:
// WithSnapshotTimeout, WithMaxBuffer, WithOnResync, WithOnUpdate,
// WithSocketOptions (the SUB socket).
func NewReplica[T any](c codec.Codec[T], opts ...ReplicaOption) (*Replica[T], error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil codec", ErrBadOption)
	}
	cfg, err := newConfig(opts, ReplicaOption.applyReplica)
	if err != nil {
		return nil, err
	}
	var onUpdate func(Update[T])
	if cfg.onUpdate != nil {
		f, ok := cfg.onUpdate.(func(Update[T]))
		if !ok {
			return nil, fmt.Errorf("%w: WithOnUpdate for another type than %s", ErrBadOption, codec.TypeName[T]())
		}
		onUpdate = f
	}
	sopts := append([]sockets.Option{sockets.WithLinger(0), sockets.WithSubscribe("")}, cfg.sockOpts...)
	sub, err := sockets.NewSub(sopts...)
	if err != nil {
		return nil, err
	}
	snap, err := sockets.NewDealer(sockets.WithLinger(0))
	if err != nil {
		sub.Close()
		return nil, err
	}
	return &Replica[T]{c: c, cfg: cfg, sub: sub, snap: snap, onUpdate: onUpdate, state: make(map[string]T)}, nil
}

// Dial connects to a publisher's updates endpoint (or a Cache in front of
// it) and to its snapshot endpoint, in the background.
func (r *Replica[T]) Dial(updates, snapshots string) error {
	if err := r.sub.Dial(updates); err != nil {
		return err
	}
	return r.snap.Dial(snapshots)
}

// Get returns a topic's value.
func (r *Replica[T]) Get(topic string) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.state[topic]
	return v, ok
}

// State returns a copy of the state and a stamp whose Seq is the last of
// the publisher's messages it reflects. Before the first snapshot it is
// empty, with a zero stamp.
func (r *Replica[T]) State() (map[string]T, Stamp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]T, len(r.state))
	for k, v := range r.state {
		out[k] = v
	}
	return out, Stamp{Publisher: r.publisher, Seq: r.seq}
}

// Synced reports whether the replica holds a consistent state now (it has
// applied a snapshot and is not waiting for another).
func (r *Replica[T]) Synced() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.synced
}

// WaitFor waits until the replica reflects the message st stamps (as
// returned by Publisher.Publish or Publisher.Head): same publisher, seq at
// least st.Seq, and synced.
func (r *Replica[T]) WaitFor(ctx context.Context, st Stamp) error {
	for {
		r.mu.Lock()
		if r.synced && r.publisher == st.Publisher && r.seq >= st.Seq {
			r.mu.Unlock()
			return nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// changedLocked wakes WaitFor. Called with r.mu held.
func (r *Replica[T]) changedLocked() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Stats returns a snapshot of the replica's counters.
func (r *Replica[T]) Stats() ReplicaStats {
	return ReplicaStats{
		Snapshots: r.snapshots.Load(), Resyncs: r.resyncs.Load(), Gaps: r.gaps.Load(),
		Lost: r.lost.Load(), Applied: r.applied.Load(), Skipped: r.skips.Load(),
		Malformed: r.malformed.Load(), Updates: r.sub.Stats(),
	}
}

// Close closes both sockets; Run then returns. It is idempotent.
func (r *Replica[T]) Close() error {
	err := r.sub.Close()
	if e := r.snap.Close(); err == nil {
		err = e
	}
	return err
}

// Run keeps the replica in sync until ctx ends (it returns ctx.Err()) or
// the replica is closed (an error matching sockets.ErrClosed).
func (r *Replica[T]) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer r.running.Store(false)
	updates := make(chan [][]byte, 256)
	replies := make(chan [][]byte, 16)
	pump := func(s *sockets.Socket, ch chan<- [][]byte) func(context.Context) error {
		return func(ctx context.Context) error {
			m, err := s.Recv(ctx)
			if err != nil {
				return err
			}
			select {
			case ch <- m:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	g := newGroup(ctx)
	g.goLoop(pump(r.sub, updates))
	g.goLoop(pump(r.snap, replies))
	g.go1(func(ctx context.Context) error { return r.loop(ctx, updates, replies) })
	return g.wait()
}

// syncState is the Run goroutine's own: where the snapshot exchange stands.
type syncState[T any] struct {
	waiting  bool      // no consistent state: buffering updates
	primed   bool      // the subscription has delivered something
	req      uint64    // the request in flight (0: none sent yet)
	sentAt   time.Time // when it was sent, or when Run started
	reason   error     // why the request was made (nil for the first)
	buffer   []stamped // updates held while waiting
	nextPart uint32
	snapPub  uint64
	snapSeq  uint64
	newState map[string]T
}

func (r *Replica[T]) loop(ctx context.Context, updates, replies <-chan [][]byte) error {
	// Request ids count up from a random base, so that a reply meant for
	// an earlier Run is not taken for one of ours.
	s := &syncState[T]{waiting: true, sentAt: time.Now(), req: rand.Uint64N(1<<48) << 16}
	sentFirst := false
	tick := time.NewTicker(r.cfg.snapshotTimeout / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-updates:
			if !s.primed {
				// The subscription is in effect: a snapshot taken from now
				// on is followed by every update after it.
				s.primed = true
				if !sentFirst {
					sentFirst = true
					if err := r.request(ctx, s, nil); err != nil {
						return err
					}
				}
			}
			if err := r.received(ctx, s, m); err != nil {
				return err
			}
		case m := <-replies:
			if err := r.onSnapshotPart(ctx, s, m); err != nil {
				return err
			}
		case now := <-tick.C:
			var reason error
			switch {
			case !sentFirst && now.Sub(s.sentAt) >= r.cfg.snapshotTimeout/4:
				// Nothing from the subscription yet (an idle publisher
				// without heartbeats, or none yet): ask anyway.
			case sentFirst && s.waiting && now.Sub(s.sentAt) >= r.cfg.snapshotTimeout:
				reason = ErrSnapshotTimeout
			default:
				continue
			}
			sentFirst = true
			if err := r.request(ctx, s, reason); err != nil {
				return err
			}
		}
	}
}

// request drops the state's consistency and asks for a snapshot.
func (r *Replica[T]) request(ctx context.Context, s *syncState[T], reason error) error {
	if reason != nil {
		r.resyncs.Add(1)
		if r.cfg.onResync != nil {
			r.cfg.onResync(reason)
		}
	}
	r.mu.Lock()
	r.synced = false
	r.mu.Unlock()
	s.req++
	s.waiting, s.sentAt, s.reason = true, time.Now(), reason
	s.buffer, s.nextPart, s.newState = s.buffer[:0], 0, nil
	return r.snap.Send(ctx, snapshotRequest(s.req))
}

func (r *Replica[T]) received(ctx context.Context, s *syncState[T], frames [][]byte) error {
	m, err := parseStamped(frames)
	if err != nil {
		r.malformed.Add(1)
		return nil
	}
	if s.waiting {
		if len(s.buffer) >= r.cfg.maxBuffer {
			// Drop the oldest: it is the likeliest to be in the snapshot;
			// if it was not, the gap shows when the snapshot arrives.
			s.buffer = s.buffer[1:]
		}
		s.buffer = append(s.buffer, m)
		return nil
	}
	return r.live(ctx, s, m)
}

// live applies an update to a synced state, or resyncs.
func (r *Replica[T]) live(ctx context.Context, s *syncState[T], m stamped) error {
	st := m.stamp
	r.mu.Lock()
	pub, seq := r.publisher, r.seq
	r.mu.Unlock()
	switch {
	case st.Publisher != pub:
		return r.request(ctx, s, fmt.Errorf("%w: publisher %016x instead of %016x", ErrRestarted, st.Publisher, pub))
	case st.Replay:
		r.skips.Add(1)
		return nil
	case st.Heartbeat:
		if st.Seq > seq {
			return r.gap(ctx, s, st, seq, st.Seq-seq)
		}
		return nil
	case st.Seq <= seq:
		r.skips.Add(1)
		return nil
	case st.Seq > seq+1:
		return r.gap(ctx, s, st, seq, st.Seq-seq-1)
	}
	u := Update[T]{Topic: m.topic, Stamp: st}
	if !st.Deleted {
		v, err := codec.Decode(r.c, m.value)
		if err != nil {
			// Every copy of it will fail the same way: skip the value but
			// keep the sequence.
			r.malformed.Add(1)
			st.Deleted = true
		}
		u.Value = v
	}
	r.mu.Lock()
	if st.Deleted {
		delete(r.state, m.topic)
	} else {
		r.state[m.topic] = u.Value
	}
	r.seq = st.Seq
	// Counted before the state is visible, so that Stats after WaitFor
	// never lags what WaitFor saw.
	r.applied.Add(1)
	r.changedLocked()
	r.mu.Unlock()
	if r.onUpdate != nil {
		r.onUpdate(u)
	}
	return nil
}

func (r *Replica[T]) gap(ctx context.Context, s *syncState[T], st Stamp, last, lost uint64) error {
	r.gaps.Add(1)
	r.lost.Add(lost)
	return r.request(ctx, s, &LagError{Publisher: st.Publisher, Lost: lost, First: last + 1})
}

func (r *Replica[T]) onSnapshotPart(ctx context.Context, s *syncState[T], frames [][]byte) error {
	h, err := parseSnapshot(frames)
	if err != nil {
		r.malformed.Add(1)
		return nil
	}
	if !s.waiting || h.req != s.req {
		return nil // an answer to an earlier request
	}
	if h.part != s.nextPart || (h.part > 0 && (h.publisher != s.snapPub || h.seq != s.snapSeq)) {
		return r.request(ctx, s, fmt.Errorf("%w: snapshot part %d missing", ErrLoss, s.nextPart))
	}
	if h.part == 0 {
		s.snapPub, s.snapSeq = h.publisher, h.seq
		s.newState = make(map[string]T, h.count)
	}
	for i := 1; i+1 < len(frames); i += 2 {
		v, err := codec.Decode(r.c, frames[i+1])
		if err != nil {
			r.malformed.Add(1)
			continue
		}
		s.newState[string(frames[i])] = v
	}
	s.nextPart++
	if !h.last {
		return nil
	}
	r.mu.Lock()
	r.state, r.publisher, r.seq, r.synced = s.newState, s.snapPub, s.snapSeq, true
	r.snapshots.Add(1)
	r.changedLocked()
	r.mu.Unlock()
	s.waiting, s.newState = false, nil
	held := s.buffer
	s.buffer = nil
	for _, m := range held {
		if err := r.live(ctx, s, m); err != nil {
			return err
		}
		if s.waiting {
			break // resynced: the rest is stale
		}
	}
	if !s.waiting {
		s.buffer = held[:0]
	}
	return nil
}
