package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// Errors from Publisher, Cache and Replica.
var (
	// ErrRunning is returned by Run when it is already running.
	ErrRunning = errors.New("pubsub: already running")
	// ErrReservedTopic is returned by Publish for a topic that starts with
	// a zero byte (reserved for heartbeats and other control messages).
	ErrReservedTopic = errors.New("pubsub: topic is reserved")
)

// PublisherStats is a snapshot of a Publisher's counters.
type PublisherStats struct {
	Published  uint64 // messages published (deletions included)
	Replayed   uint64 // cached values resent for new subscriptions
	Snapshots  uint64 // snapshot requests answered
	Heartbeats uint64 // heartbeats sent
	Topics     int    // topics with a value now
	Socket     sockets.Stats
}

// Publisher publishes values of type T on topics. It stamps each message
// with its own id, a sequence number and the time (see Stamp), and it
// remembers the latest value of every topic. While Run runs it also:
//
//   - answers each new subscription at once with the latest value of every
//     topic it matches (a last-value cache; WithReplay(false) turns it off);
//   - answers snapshot requests from Replicas on the endpoints given to
//     ListenSnapshots, with the whole state and the seq it corresponds to;
//   - sends a heartbeat every WithHeartbeat interval, carrying the latest
//     seq, so that subscribers notice loss even when nothing follows it.
//
// The underlying XPUB cannot tell which subscriber a subscription came from,
// so a replay goes to every subscriber of the topic: one that already had
// the value gets it again, marked Stamp.Replay (a Subscriber drops such a
// duplicate, a Replica ignores replays). As for any PUB socket, a subscriber
// that falls a high-water mark behind loses messages; the sequence numbers
// let it find out.
//
// A Publisher is safe for concurrent use.
type Publisher[T any] struct {
	c    codec.Codec[T]
	cfg  config
	pub  *sockets.Socket // XPUB, verbose
	snap *sockets.Socket // ROUTER
	id   uint64

	mu      sync.Mutex
	seq     uint64
	entries map[string]*entry[T] // deleted topics stay as tombstones
	live    int                  // entries not deleted

	running                                   atomic.Bool
	published, replayed, snapshots, heartbeat atomic.Uint64
}

// entry is a topic's latest publication.
type entry[T any] struct {
	stamp Stamp
	value []byte // as encoded; shared by the messages that carry it
	v     T
}

// NewPublisher creates a Publisher that encodes values with c. Options:
// WithReplay, WithHeartbeat, WithSocketOptions.
func NewPublisher[T any](c codec.Codec[T], opts ...PublisherOption) (*Publisher[T], error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil codec", ErrBadOption)
	}
	cfg, err := newConfig(opts, PublisherOption.applyPublisher)
	if err != nil {
		return nil, err
	}
	sopts := append([]sockets.Option{sockets.WithLinger(publisherLinger), sockets.WithXPubVerbose(true)}, cfg.sockOpts...)
	pub, err := sockets.NewXPub(sopts...)
	if err != nil {
		return nil, err
	}
	snap, err := sockets.NewRouter(sockets.WithLinger(publisherLinger))
	if err != nil {
		pub.Close()
		return nil, err
	}
	id := rand.Uint64()
	for id == 0 {
		id = rand.Uint64()
	}
	return &Publisher[T]{c: c, cfg: cfg, pub: pub, snap: snap, id: id, entries: make(map[string]*entry[T])}, nil
}

// ID is the publisher's instance id, as found in its stamps.
func (p *Publisher[T]) ID() uint64 { return p.id }

// Listen binds the publishing socket (an XPUB) to an endpoint and returns
// it as bound.
func (p *Publisher[T]) Listen(endpoint string) (string, error) { return p.pub.Listen(endpoint) }

// Dial connects the publishing socket to an endpoint (a Cache's upstream,
// say) in the background.
func (p *Publisher[T]) Dial(endpoint string) error { return p.pub.Dial(endpoint) }

// ListenSnapshots binds the snapshot socket (a ROUTER) that Replicas ask
// for the state; Run answers them.
func (p *Publisher[T]) ListenSnapshots(endpoint string) (string, error) {
	return p.snap.Listen(endpoint)
}

// Publish sends v to the subscribers of topic and makes it the topic's
// latest value. It never waits for subscribers: one at its high-water mark
// loses the message (and later finds the gap). It returns the message's
// stamp; Replica.WaitFor(ctx, stamp) waits until a replica has it.
func (p *Publisher[T]) Publish(ctx context.Context, topic string, v T) (Stamp, error) {
	if strings.HasPrefix(topic, "\x00") {
		return Stamp{}, fmt.Errorf("%w: %q", ErrReservedTopic, topic)
	}
	b, err := codec.Encode(p.c, v)
	if err != nil {
		return Stamp{}, fmt.Errorf("pubsub: publish %q: %w", topic, err)
	}
	return p.publish(ctx, topic, v, b, false)
}

// Delete removes topic from the state and tells subscribers so (a message
// with Stamp.Deleted and no value).
func (p *Publisher[T]) Delete(ctx context.Context, topic string) (Stamp, error) {
	if strings.HasPrefix(topic, "\x00") {
		return Stamp{}, fmt.Errorf("%w: %q", ErrReservedTopic, topic)
	}
	var zero T
	return p.publish(ctx, topic, zero, nil, true)
}

func (p *Publisher[T]) publish(ctx context.Context, topic string, v T, b []byte, del bool) (Stamp, error) {
	if err := ctx.Err(); err != nil {
		return Stamp{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[topic]
	if e == nil {
		e = &entry[T]{}
		p.entries[topic] = e
	}
	wasLive := e.stamp.Seq != 0 && !e.stamp.Deleted
	p.seq++
	st := Stamp{Publisher: p.id, Seq: p.seq, TopicSeq: e.stamp.TopicSeq + 1, Time: time.Now(), Deleted: del}
	e.stamp, e.value, e.v = st, b, v
	switch {
	case wasLive && del:
		p.live--
	case !wasLive && !del:
		p.live++
	}
	hdr, _ := st.MarshalBinary()
	frames := [][]byte{[]byte(topic), hdr, b}
	if p.pub.HeadersEnabled() { // obs: the context's headers, live updates only
		if h, ok := sockets.HeadersFromContext(ctx); ok && len(h) > 0 {
			hf, err := sockets.EncodeHeaders(h)
			if err != nil {
				return st, fmt.Errorf("pubsub: publish %q: %w", topic, err)
			}
			frames = [][]byte{[]byte(topic), hdr, hf, b}
		}
	}
	// Sent under the lock, so that a replay cannot overtake a newer value.
	if err := p.pub.Send(ctx, frames...); err != nil {
		return st, fmt.Errorf("pubsub: publish %q: %w", topic, err)
	}
	p.published.Add(1)
	return st, nil
}

// Get returns the latest value of topic and its stamp.
func (p *Publisher[T]) Get(topic string) (T, Stamp, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[topic]
	if e == nil || e.stamp.Deleted {
		var zero T
		return zero, Stamp{}, false
	}
	return e.v, e.stamp, true
}

// State returns a copy of the latest value of every topic, and a stamp
// whose Seq is the last message published (as in a heartbeat).
func (p *Publisher[T]) State() (map[string]T, Stamp) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]T, p.live)
	for k, e := range p.entries {
		if !e.stamp.Deleted {
			out[k] = e.v
		}
	}
	return out, p.headLocked()
}

// Head returns a stamp whose Seq is the last message published.
func (p *Publisher[T]) Head() Stamp {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.headLocked()
}

func (p *Publisher[T]) headLocked() Stamp {
	return Stamp{Publisher: p.id, Seq: p.seq, Heartbeat: true, Time: time.Now()}
}

// Stats returns a snapshot of the publisher's counters.
func (p *Publisher[T]) Stats() PublisherStats {
	p.mu.Lock()
	topics := p.live
	p.mu.Unlock()
	return PublisherStats{
		Published: p.published.Load(), Replayed: p.replayed.Load(),
		Snapshots: p.snapshots.Load(), Heartbeats: p.heartbeat.Load(),
		Topics: topics, Socket: p.pub.Stats(),
	}
}

// Close closes both sockets; Run then returns. It is idempotent.
func (p *Publisher[T]) Close() error {
	err := p.pub.Close()
	if e := p.snap.Close(); err == nil {
		err = e
	}
	return err
}

// Run serves subscriptions (replays), snapshot requests and heartbeats
// until ctx ends (it returns ctx.Err()) or the publisher is closed (an
// error matching sockets.ErrClosed). Publish works with or without Run.
func (p *Publisher[T]) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer p.running.Store(false)
	g := newGroup(ctx)
	g.goLoop(func(ctx context.Context) error {
		m, err := p.pub.RecvMsg(ctx)
		if err != nil {
			return err
		}
		p.subscribed(ctx, m)
		return nil
	})
	g.goLoop(func(ctx context.Context) error {
		m, err := p.snap.RecvMsg(ctx)
		if err != nil {
			return err
		}
		p.serveSnapshot(ctx, m)
		return nil
	})
	if p.cfg.heartbeat > 0 {
		g.go1(func(ctx context.Context) error {
			t := time.NewTicker(p.cfg.heartbeat)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
				if err := p.sendHeartbeat(ctx); err != nil {
					return err
				}
			}
		})
	}
	return g.wait()
}

func (p *Publisher[T]) sendHeartbeat(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	hdr, _ := p.headLocked().MarshalBinary()
	if err := p.pub.Send(ctx, []byte(HeartbeatTopic), hdr); err != nil {
		return err
	}
	p.heartbeat.Add(1)
	return nil
}

// subscribed answers a new subscription with the cached values it matches,
// oldest first.
func (p *Publisher[T]) subscribed(ctx context.Context, m sockets.Msg) {
	if !p.cfg.replay || len(m.Tail) != 0 || len(m.Head) == 0 || m.Head[0] != 1 {
		return // a cancel, or not a subscription at all
	}
	prefix := string(m.Head[1:])
	p.mu.Lock()
	defer p.mu.Unlock()
	var match []string
	for k, e := range p.entries {
		if !e.stamp.Deleted && strings.HasPrefix(k, prefix) {
			match = append(match, k)
		}
	}
	sort.Slice(match, func(i, j int) bool { return p.entries[match[i]].stamp.Seq < p.entries[match[j]].stamp.Seq })
	for _, k := range match {
		e := p.entries[k]
		st := e.stamp
		st.Replay = true
		hdr, _ := st.MarshalBinary()
		if p.pub.Send(ctx, []byte(k), hdr, e.value) != nil {
			return
		}
		p.replayed.Add(1)
	}
}

// serveSnapshot answers one snapshot request with the whole state, in
// parts of at most snapshotPart topics.
func (p *Publisher[T]) serveSnapshot(ctx context.Context, m sockets.Msg) {
	if len(m.Tail) != 1 {
		return
	}
	req, err := parseSnapshotRequest(m.Tail[0])
	if err != nil {
		return
	}
	p.mu.Lock()
	pairs := make([][]byte, 0, 2*p.live)
	for k, e := range p.entries {
		if !e.stamp.Deleted {
			pairs = append(pairs, []byte(k), e.value)
		}
	}
	h := snapshotHeader{req: req, publisher: p.id, seq: p.seq}
	p.mu.Unlock()
	peer := m.Head
	for {
		n := min(len(pairs)/2, snapshotPart)
		h.count, h.last = uint32(n), n == len(pairs)/2
		frames := make([][]byte, 0, 2+2*n)
		frames = append(frames, peer, h.marshal())
		frames = append(frames, pairs[:2*n]...)
		pairs = pairs[2*n:]
		if p.snap.Send(ctx, frames...) != nil {
			return
		}
		if h.last {
			break
		}
		h.part++
	}
	p.snapshots.Add(1)
}

// group runs a few goroutines that end together: when ctx ends or when one
// of them returns an error, which wait then returns (ctx.Err() if ctx ended
// first).
type group struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newGroup(parent context.Context) *group {
	ctx, cancel := context.WithCancel(parent)
	return &group{parent: parent, ctx: ctx, cancel: cancel}
}

func (g *group) fail(err error) {
	g.once.Do(func() { g.err = err })
	g.cancel()
}

// go1 runs f once.
func (g *group) go1(f func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(g.ctx); err != nil {
			g.fail(err)
		}
	}()
}

// goLoop runs f until it fails or ctx ends.
func (g *group) goLoop(f func(context.Context) error) {
	g.go1(func(ctx context.Context) error {
		for ctx.Err() == nil {
			if err := f(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

func (g *group) wait() error {
	g.wg.Wait()
	g.cancel()
	if err := g.parent.Err(); err != nil {
		return err
	}
	return g.err
}
