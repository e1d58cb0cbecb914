package pubsub

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zmqkit/zmqkit/sockets"
)

// CacheStats is a snapshot of a Cache's counters.
type CacheStats struct {
	Forwarded  uint64 // messages passed from upstream to downstream
	Replayed   uint64 // cached messages resent for new subscriptions
	Uncached   uint64 // messages on new topics past WithMaxTopics, forwarded only
	Topics     int    // topics cached now
	Upstream   sockets.Stats
	Downstream sockets.Stats
}

// Cache is a last-value cache in front of one or more publishers: an
// XSUB↔XPUB proxy that subscribes upstream to everything, forwards every
// message downstream, and remembers the latest message of each topic (its
// first frame). When a subscription arrives downstream, it sends at once
// the cached messages the prefix matches, oldest first, so that a late
// subscriber starts with the latest value of every topic instead of waiting
// for the next update.
//
// It works with any publisher. With a Publisher's stamped messages it also
// marks resent messages as replays (Stamp.Replay), drops a topic when the
// publisher deletes it, and does not cache heartbeats. As with Publisher's
// own replay, a resent message reaches every subscriber of its topic, not
// only the new one.
type Cache struct {
	cfg  config
	up   *sockets.Socket // XSUB, subscribed to everything
	down *sockets.Socket // XPUB, verbose

	mu      sync.Mutex
	entries map[string]*cacheEntry
	order   uint64

	running                       atomic.Bool
	forwarded, replayed, uncached atomic.Uint64
}

type cacheEntry struct {
	msg   sockets.Msg
	order uint64
}

// NewCache creates a Cache. Options: WithSocketOptions (the downstream
// XPUB), WithMaxTopics.
func NewCache(opts ...CacheOption) (*Cache, error) {
	cfg, err := newConfig(opts, CacheOption.applyCache)
	if err != nil {
		return nil, err
	}
	up, err := sockets.NewXSub(sockets.WithLinger(0))
	if err != nil {
		return nil, err
	}
	// Everything, so that every topic is cached before anyone asks.
	if err := up.Send(context.Background(), []byte{1}); err != nil {
		up.Close()
		return nil, err
	}
	sopts := append([]sockets.Option{sockets.WithLinger(publisherLinger), sockets.WithXPubVerbose(true)}, cfg.sockOpts...)
	down, err := sockets.NewXPub(sopts...)
	if err != nil {
		up.Close()
		return nil, err
	}
	return &Cache{cfg: cfg, up: up, down: down, entries: make(map[string]*cacheEntry)}, nil
}

// DialUpstream connects to a publisher.
func (c *Cache) DialUpstream(endpoint string) error { return c.up.Dial(endpoint) }

// ListenUpstream binds an endpoint that publishers connect to.
func (c *Cache) ListenUpstream(endpoint string) (string, error) { return c.up.Listen(endpoint) }

// Listen binds an endpoint that subscribers connect to.
func (c *Cache) Listen(endpoint string) (string, error) { return c.down.Listen(endpoint) }

// Dial connects the downstream side to a subscriber that listens.
func (c *Cache) Dial(endpoint string) error { return c.down.Dial(endpoint) }

// Len is the number of topics cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Get returns a copy of the message cached for topic.
func (c *Cache) Get(topic string) ([][]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[topic]
	if e == nil {
		return nil, false
	}
	return copyFrames(e.msg), true
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() CacheStats {
	return CacheStats{
		Forwarded: c.forwarded.Load(), Replayed: c.replayed.Load(), Uncached: c.uncached.Load(),
		Topics: c.Len(), Upstream: c.up.Stats(), Downstream: c.down.Stats(),
	}
}

// Close closes both sockets; Run then returns. It is idempotent.
func (c *Cache) Close() error {
	err := c.down.Close()
	if e := c.up.Close(); err == nil {
		err = e
	}
	return err
}

// Run forwards and caches until ctx ends (it returns ctx.Err()) or the
// cache is closed (an error matching sockets.ErrClosed).
func (c *Cache) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)
	g := newGroup(ctx)
	g.goLoop(func(ctx context.Context) error {
		m, err := c.up.RecvMsg(ctx)
		if err != nil {
			return err
		}
		return c.forward(ctx, m)
	})
	g.goLoop(func(ctx context.Context) error {
		m, err := c.down.RecvMsg(ctx)
		if err != nil {
			return err
		}
		if len(m.Tail) == 0 && len(m.Head) > 0 && m.Head[0] == 1 {
			return c.replay(ctx, string(m.Head[1:]))
		}
		return nil // a cancel or other message from a subscriber: nothing to do
	})
	return g.wait()
}

func (c *Cache) forward(ctx context.Context, m sockets.Msg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remember(m)
	// Sent under the lock, so that a replay cannot overtake a newer value.
	if err := c.down.SendMsg(ctx, m); err != nil {
		return fmt.Errorf("pubsub: cache: %w", err)
	}
	c.forwarded.Add(1)
	return nil
}

// remember updates the cache with m. Called with c.mu held.
func (c *Cache) remember(m sockets.Msg) {
	topic := string(m.Head)
	if len(m.Tail) >= 1 && isStamp(m.Tail[0]) {
		var st Stamp
		_ = st.UnmarshalBinary(m.Tail[0])
		switch {
		case st.Heartbeat:
			return
		case st.Deleted:
			delete(c.entries, topic)
			return
		}
	}
	e := c.entries[topic]
	if e == nil {
		if len(c.entries) >= c.cfg.maxTopics {
			c.uncached.Add(1)
			return
		}
		e = &cacheEntry{}
		c.entries[topic] = e
	}
	c.order++
	// A copy: received frames alias the connection's 64 KiB read chunks,
	// which a long-lived cache entry would otherwise keep alive.
	e.msg, e.order = sockets.MsgOf(copyFrames(m)...), c.order
}

// replay sends the cached messages that prefix matches, oldest first.
func (c *Cache) replay(ctx context.Context, prefix string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var match []*cacheEntry
	for k, e := range c.entries {
		if strings.HasPrefix(k, prefix) {
			match = append(match, e)
		}
	}
	sort.Slice(match, func(i, j int) bool { return match[i].order < match[j].order })
	for _, e := range match {
		m := e.msg
		if len(m.Tail) >= 1 && isStamp(m.Tail[0]) {
			tail := append([][]byte(nil), m.Tail...)
			tail[0] = withReplay(tail[0])
			m = sockets.Msg{Head: m.Head, Tail: tail}
		}
		if err := c.down.SendMsg(ctx, m); err != nil {
			return fmt.Errorf("pubsub: cache: %w", err)
		}
		c.replayed.Add(1)
	}
	return nil
}

func copyFrames(m sockets.Msg) [][]byte {
	n := m.Size()
	buf := make([]byte, 0, n)
	out := make([][]byte, 0, 1+len(m.Tail))
	for i := 0; i < m.Len(); i++ {
		f := m.Frame(i)
		buf = append(buf, f...)
		out = append(out, buf[len(buf)-len(f):len(buf):len(buf)])
	}
	return out
}
