package pubsub

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// Lag reports; test them with errors.Is.
var (
	// ErrLoss is matched by a *LagError that reports lost messages: a gap in
	// a publisher's sequence numbers.
	ErrLoss = errors.New("pubsub: messages lost")
	// ErrBehind is matched by a *LagError that reports a subscriber reading
	// messages older than WithMaxLag.
	ErrBehind = errors.New("pubsub: subscriber is falling behind")
	// ErrRestarted is the reason a Replica resyncs when its publisher is a
	// new instance.
	ErrRestarted = errors.New("pubsub: publisher restarted")
	// ErrSnapshotTimeout is the reason a Replica asks for a snapshot again.
	ErrSnapshotTimeout = errors.New("pubsub: no snapshot in time")
)

// LagError reports that a subscriber lost messages or is falling behind.
// It matches ErrLoss when Lost > 0 and ErrBehind when Age > 0.
type LagError struct {
	Publisher uint64        // the publisher concerned
	Topic     string        // set when the loss was found within one topic
	Lost      uint64        // messages lost: sequence numbers First..First+Lost-1
	First     uint64        // the first missing seq (a topic seq when Topic is set)
	Age       time.Duration // set when a message arrived older than the maximum lag
	MaxLag    time.Duration
}

func (e *LagError) Error() string {
	var s string
	if e.Lost > 0 {
		where := ""
		if e.Topic != "" {
			where = fmt.Sprintf(" on topic %q", e.Topic)
		}
		s = fmt.Sprintf("pubsub: lost %d messages from publisher %016x%s (seq %d-%d)",
			e.Lost, e.Publisher, where, e.First, e.First+e.Lost-1)
	}
	if e.Age > 0 {
		if s != "" {
			s += "; "
		} else {
			s = "pubsub: "
		}
		s += fmt.Sprintf("falling behind publisher %016x: message %v old (max %v)", e.Publisher, e.Age.Round(time.Microsecond), e.MaxLag)
	}
	return s
}

// Is makes errors.Is(err, ErrLoss) and errors.Is(err, ErrBehind) work.
func (e *LagError) Is(target error) bool {
	return (target == ErrLoss && e.Lost > 0) || (target == ErrBehind && e.Age > 0)
}

// Update is one value received by a Subscriber or applied by a Replica.
type Update[T any] struct {
	Topic string
	Value T // the zero value when Stamp.Deleted
	Stamp Stamp
	// Headers are those the publisher sent the update with (obs: both
	// sides made sockets.WithHeaders, Publish's context carrying them);
	// nil otherwise, and for replays and snapshots, which are not kept
	// with headers.
	Headers sockets.Headers
}

// SubscriberStats is a snapshot of a Subscriber's counters.
type SubscriberStats struct {
	Received   uint64 // updates returned by Recv (replays included)
	Replays    uint64 // of which were replays
	Lost       uint64 // messages found missing
	Gaps       uint64 // times a loss was reported
	Behind     uint64 // times ErrBehind was reported
	Duplicates uint64 // messages dropped as already seen
	Heartbeats uint64
	Malformed  uint64 // messages without a valid stamp, or that did not decode
	Socket     sockets.Stats
}

// Subscriber receives a Publisher's stamped values and checks them, in the
// manner of the ZeroMQ guide's "suicidal snail": instead of silently losing
// messages when it cannot keep up, it reports it. Recv returns a *LagError
// when it finds a gap in a publisher's sequence numbers (ErrLoss) or a
// message older than WithMaxLag (ErrBehind, reported once until the
// subscriber catches up again). The update that revealed the problem is not
// lost: the next Recv returns it. What to do — stop, resync from a snapshot,
// alert — is the caller's choice.
//
// Falling behind by count shows up as loss: a subscriber more than the two
// high-water marks (the publisher's send HWM and its own receive HWM)
// behind loses messages, and the next message or heartbeat reveals the gap.
//
// When subscribed to everything (the prefix ""), it checks the publisher's
// stream sequence, which catches every loss, including at the end of a burst
// once the next heartbeat arrives. With narrower subscriptions it checks
// each topic's own sequence instead, which finds a loss when the next
// message of the same topic arrives. It tracks every publisher it hears
// from separately. Changing subscriptions restarts the checks.
//
// A Subscriber is safe for concurrent use, though concurrent Recvs see the
// messages in no defined order.
type Subscriber[T any] struct {
	c    codec.Codec[T]
	cfg  config
	sock *sockets.Socket

	mu      sync.Mutex
	subs    map[string]int
	tr      tracker
	pending *pendingRecv[T]
	behind  bool

	received, replays, lost, gaps, behindN atomic.Uint64
	dups, heartbeats, malformed            atomic.Uint64
}

type pendingRecv[T any] struct {
	u   Update[T]
	err error
}

// NewSubscriber creates a Subscriber that decodes values with c. It
// subscribes to HeartbeatTopic by itself. Options: WithSubscribe,
// WithMaxLag, WithClock, WithMaxTopics, WithSocketOptions.
func NewSubscriber[T any](c codec.Codec[T], opts ...SubscriberOption) (*Subscriber[T], error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil codec", ErrBadOption)
	}
	cfg, err := newConfig(opts, SubscriberOption.applySubscriber)
	if err != nil {
		return nil, err
	}
	sopts := append([]sockets.Option{sockets.WithLinger(0), sockets.WithSubscribe(HeartbeatTopic)}, cfg.sockOpts...)
	subs := make(map[string]int)
	for _, p := range cfg.subscribe {
		sopts = append(sopts, sockets.WithSubscribe(p))
		subs[p]++
	}
	sock, err := sockets.NewSub(sopts...)
	if err != nil {
		return nil, err
	}
	s := &Subscriber[T]{c: c, cfg: cfg, sock: sock, subs: subs}
	s.tr.reset(subs[""] > 0, cfg.maxTopics)
	return s, nil
}

// Dial connects to a publisher (or a Cache) in the background.
func (s *Subscriber[T]) Dial(endpoint string) error { return s.sock.Dial(endpoint) }

// Listen binds an endpoint that publishers connect to.
func (s *Subscriber[T]) Listen(endpoint string) (string, error) { return s.sock.Listen(endpoint) }

// Subscribe asks for the topics that start with prefix ("" for all).
func (s *Subscriber[T]) Subscribe(prefix string) error { return s.setSub(prefix, true) }

// Unsubscribe undoes one Subscribe(prefix).
func (s *Subscriber[T]) Unsubscribe(prefix string) error { return s.setSub(prefix, false) }

func (s *Subscriber[T]) setSub(prefix string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if on {
		err = s.sock.Subscribe(prefix)
		if err == nil {
			s.subs[prefix]++
		}
	} else if s.subs[prefix] > 0 {
		err = s.sock.Unsubscribe(prefix)
		if err == nil {
			if s.subs[prefix]--; s.subs[prefix] == 0 {
				delete(s.subs, prefix)
			}
		}
	}
	s.tr.reset(s.subs[""] > 0, s.cfg.maxTopics)
	return err
}

// Recv returns the next update. It returns a *LagError, and no update, when
// the next message reveals loss or lag; that message is returned by the
// following Recv. A message that is not stamped, or whose value does not
// decode, is an error matching ErrBadStamp or codec.ErrDecode. Any other
// error comes from the socket (ctx ended, socket closed).
func (s *Subscriber[T]) Recv(ctx context.Context) (Update[T], error) {
	s.mu.Lock()
	if p := s.pending; p != nil {
		s.pending = nil
		s.mu.Unlock()
		return p.u, p.err
	}
	s.mu.Unlock()
	for {
		m, err := s.sock.Recv(ctx)
		if err != nil {
			return Update[T]{}, err
		}
		var hd sockets.Headers
		var refused error
		if len(m) == 4 && sockets.IsHeaderFrame(m[2]) { // obs: headers
			if hd, refused = sockets.ReadHeaders(m[2], s.sock.HeadersEnabled()); refused != nil {
				refused = fmt.Errorf("pubsub: topic %q: %w", m[0], refused)
			}
			m = [][]byte{m[0], m[1], m[3]}
		}
		u, ok, err := s.accept(m, refused)
		if ok {
			u.Headers = hd
			return u, err
		}
	}
}

// accept checks one message. ok is false when there is nothing to return
// (a duplicate, or a heartbeat that reveals nothing). refused, when set, is
// why the message cannot be delivered (its header frame): it is returned in
// place of the value, after the message's stamp is tracked like any other,
// so that a message received and refused is not reported lost later.
func (s *Subscriber[T]) accept(frames [][]byte, refused error) (u Update[T], ok bool, err error) {
	m, err := parseStamped(frames)
	if err != nil {
		s.malformed.Add(1)
		return u, true, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lost, first, dup := s.tr.observe(m.topic, m.stamp)
	if dup {
		s.dups.Add(1)
		return u, false, nil
	}
	var lag *LagError
	if lost > 0 {
		lag = &LagError{Publisher: m.stamp.Publisher, Lost: lost, First: first}
		if !s.tr.all {
			lag.Topic = m.topic
		}
		s.lost.Add(lost)
		s.gaps.Add(1)
	}
	if s.cfg.maxLag > 0 && !m.stamp.Replay && !m.stamp.Time.IsZero() {
		age := s.cfg.clock().Sub(m.stamp.Time)
		switch {
		case age > s.cfg.maxLag && !s.behind:
			s.behind = true
			s.behindN.Add(1)
			if lag == nil {
				lag = &LagError{Publisher: m.stamp.Publisher}
			}
			lag.Age, lag.MaxLag = age, s.cfg.maxLag
		case age <= s.cfg.maxLag/2:
			s.behind = false // caught up: report the next episode
		}
	}
	if m.stamp.Heartbeat {
		s.heartbeats.Add(1)
		if lag != nil {
			return u, true, lag
		}
		return u, false, nil
	}
	u = Update[T]{Topic: m.topic, Stamp: m.stamp}
	if refused != nil {
		s.malformed.Add(1)
		err = refused
	} else if !m.stamp.Deleted {
		u.Value, err = codec.Decode(s.c, m.value)
		if err != nil {
			s.malformed.Add(1)
			err = fmt.Errorf("pubsub: topic %q: %w", m.topic, err)
		}
	}
	if err == nil {
		s.received.Add(1)
		if m.stamp.Replay {
			s.replays.Add(1)
		}
	}
	if lag != nil {
		s.pending = &pendingRecv[T]{u: u, err: err}
		return Update[T]{}, true, lag
	}
	return u, true, err
}

// All iterates over updates: for u, err := range sub.All(ctx). Lag reports
// and undecodable messages are yielded as errors and iteration goes on; any
// other error ends it.
func (s *Subscriber[T]) All(ctx context.Context) iter.Seq2[Update[T], error] {
	return func(yield func(Update[T], error) bool) {
		for {
			u, err := s.Recv(ctx)
			if !yield(u, err) || terminal(err) {
				return
			}
		}
	}
}

// terminal reports whether a Recv error ends a stream of updates.
func terminal(err error) bool {
	var lag *LagError
	return err != nil && !errors.As(err, &lag) && !errors.Is(err, codec.ErrDecode) && !errors.Is(err, ErrBadStamp)
}

// Stats returns a snapshot of the subscriber's counters.
func (s *Subscriber[T]) Stats() SubscriberStats {
	return SubscriberStats{
		Received: s.received.Load(), Replays: s.replays.Load(), Lost: s.lost.Load(),
		Gaps: s.gaps.Load(), Behind: s.behindN.Load(), Duplicates: s.dups.Load(),
		Heartbeats: s.heartbeats.Load(), Malformed: s.malformed.Load(), Socket: s.sock.Stats(),
	}
}

// Close closes the socket; a blocked Recv returns an error matching
// sockets.ErrClosed. It is idempotent.
func (s *Subscriber[T]) Close() error { return s.sock.Close() }

// maxPublishers bounds the publishers a tracker remembers; the one heard
// from least recently is forgotten first.
const maxPublishers = 256

// tracker checks sequence numbers, per publisher: the stream's when the
// subscriber sees all of it, each topic's otherwise.
type tracker struct {
	all       bool
	maxTopics int
	pubs      map[uint64]*pubTrack
	tick      uint64
}

type pubTrack struct {
	started bool
	last    uint64            // stream seq (all)
	topics  map[string]uint64 // latest topic seq of each topic
	used    uint64
}

func (t *tracker) reset(all bool, maxTopics int) {
	*t = tracker{all: all, maxTopics: maxTopics, pubs: make(map[uint64]*pubTrack)}
}

func (t *tracker) publisher(id uint64) *pubTrack {
	t.tick++
	p := t.pubs[id]
	if p == nil {
		if len(t.pubs) >= maxPublishers {
			var oldest uint64
			var oldestUse uint64 = ^uint64(0)
			for k, q := range t.pubs {
				if q.used < oldestUse {
					oldest, oldestUse = k, q.used
				}
			}
			delete(t.pubs, oldest)
		}
		p = &pubTrack{topics: make(map[string]uint64)}
		t.pubs[id] = p
	}
	p.used = t.tick
	return p
}

// observe checks one stamp: lost messages (first is the first missing
// seq), or a duplicate to drop. Topic seqs are kept in both modes, so that
// a replay of a value already seen is dropped either way.
func (t *tracker) observe(topic string, st Stamp) (lost, first uint64, dup bool) {
	p := t.publisher(st.Publisher)
	if st.Heartbeat {
		if t.all {
			switch {
			case !p.started:
				p.started, p.last = true, st.Seq
			case st.Seq > p.last:
				lost, first, p.last = st.Seq-p.last, p.last+1, st.Seq
			}
		}
		return lost, first, false
	}
	last, known := p.topics[topic]
	if known && st.TopicSeq <= last {
		return 0, 0, true
	}
	switch {
	case !t.all:
		if known && st.TopicSeq > last+1 {
			lost, first = st.TopicSeq-last-1, last+1
		}
	case st.Replay:
		// A cached value, out of the stream's sequence: neither news of
		// the stream nor a gap in it.
	case !p.started:
		p.started, p.last = true, st.Seq
	case st.Seq <= p.last:
		return 0, 0, true
	default:
		if st.Seq > p.last+1 {
			lost, first = st.Seq-p.last-1, p.last+1
		}
		p.last = st.Seq
	}
	if !known && len(p.topics) >= t.maxTopics {
		for k := range p.topics { // forget one, any one
			delete(p.topics, k)
			break
		}
	}
	p.topics[topic] = st.TopicSeq
	return lost, first, false
}
