package zmqwatermill

import (
	"errors"
	"fmt"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// Mode is how messages of a topic are shared out.
type Mode int

const (
	// FanOut gives every Subscriber of a topic every message (XPUB → SUB).
	// It is the zero Mode.
	FanOut Mode = iota
	// Competing gives each message to one Subscriber (PUSH → PULL).
	Competing
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case FanOut:
		return "fan-out"
	case Competing:
		return "competing"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Endpoint is where a socket meets its peers: Addr is any zmqkit endpoint
// (tcp://host:port, ipc://path, inproc://name); Bind listens there, and
// otherwise the socket connects (in the background, reconnecting).
type Endpoint struct {
	Addr string
	Bind bool
}

// Bind is an Endpoint that listens on addr.
func Bind(addr string) Endpoint { return Endpoint{Addr: addr, Bind: true} }

// Connect is an Endpoint that connects to addr.
func Connect(addr string) Endpoint { return Endpoint{Addr: addr} }

// String is the endpoint as "bind tcp://…" or "connect tcp://…".
func (e Endpoint) String() string {
	if e.Bind {
		return "bind " + e.Addr
	}
	return "connect " + e.Addr
}

// ErrNoEndpoint: a config without endpoints.
var ErrNoEndpoint = errors.New("zmqwatermill: no endpoint")

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Mode: FanOut (an XPUB socket) or Competing (a PUSH socket).
	Mode Mode
	// Endpoints to bind or connect; at least one.
	Endpoints []Endpoint
	// SocketOptions are given to the socket after this package's own
	// (none for a Publisher): security (sockets.WithCurve, WithPlain, …),
	// high-water marks, linger, heartbeats, a logger.
	SocketOptions []sockets.Option
	// SendTimeout bounds how long Publish waits, in Competing mode, for a
	// consumer with room (PUSH waits while every peer is full or none is
	// there). 0: until the message's context ends or Close. FanOut does
	// not wait (XPUB drops for a subscriber at its high-water mark) unless
	// sockets.WithPubNoDrop is among SocketOptions; then SendTimeout and
	// the message's context bound its wait in the same way.
	SendTimeout time.Duration
	// Limits bound topics and headers (see Limits).
	Limits Limits
}

// SubscriberConfig configures a Subscriber.
type SubscriberConfig struct {
	// Mode: FanOut (a SUB socket) or Competing (a PULL socket). It must
	// be the Publishers' mode.
	Mode Mode
	// Endpoints to bind or connect; at least one. In FanOut mode they are
	// bound or connected by NewSubscriber; in Competing mode by the first
	// SubscribeInitialize or Subscribe, so that a Subscriber takes no
	// message before it has a topic to give it to.
	Endpoints []Endpoint
	// SocketOptions are given to the socket after this package's own
	// (sockets.WithLinger(0)): security, high-water marks, heartbeats, a logger.
	SocketOptions []sockets.Option
	// Backlog bounds the messages of one topic that wait, received, for a
	// subscription to take them (default 1000). At the bound a FanOut
	// Subscriber drops the topic's new messages (counted in
	// Stats().Dropped), as a PUB drops for a slow subscriber; a Competing
	// one stops reading (its other topics wait too), so that the
	// Publisher's PUSH gives the next messages to other consumers or waits.
	Backlog int
	// NoDrop makes a FanOut Subscriber whose topic backlog is full stop
	// reading, as a Competing one does, instead of dropping: its socket's
	// queue then fills, and the Publisher drops for it, or, with
	// sockets.WithPubNoDrop among the Publisher's SocketOptions, waits,
	// so that nothing is dropped on the way and the slowest Subscriber
	// paces the Publisher. One full topic then holds up this
	// Subscriber's other topics.
	NoDrop bool
	// BacklogBytes bounds the payload bytes of one topic's backlog in the
	// same way (default 64 MiB); a single message over it is still taken
	// when the backlog is empty.
	BacklogBytes int64
	// JoinTimeout bounds how long SubscribeInitialize and Subscribe wait,
	// in FanOut mode, for the Publishers to confirm the subscription (see
	// SubscribeInitialize). 0: 5 s. Negative: do not wait.
	JoinTimeout time.Duration
	// RequireJoin makes a join that times out an error (ErrNotJoined);
	// otherwise it is logged and the subscription stands, taking
	// messages from whichever Publisher gets it later.
	RequireJoin bool
	// Limits bound topics and headers (see Limits).
	Limits Limits
}

// Defaults of SubscriberConfig.
const (
	DefaultBacklog      = 1000
	DefaultBacklogBytes = 64 << 20
	DefaultJoinTimeout  = 5 * time.Second
)

func checkMode(m Mode) error {
	if m != FanOut && m != Competing {
		return fmt.Errorf("zmqwatermill: unknown %v", m)
	}
	return nil
}

func (c *PublisherConfig) setDefaults() error {
	if err := checkMode(c.Mode); err != nil {
		return err
	}
	if len(c.Endpoints) == 0 {
		return ErrNoEndpoint
	}
	c.Limits = c.Limits.withDefaults()
	return nil
}

func (c *SubscriberConfig) setDefaults() error {
	if err := checkMode(c.Mode); err != nil {
		return err
	}
	if len(c.Endpoints) == 0 {
		return ErrNoEndpoint
	}
	if c.Backlog <= 0 {
		c.Backlog = DefaultBacklog
	}
	if c.BacklogBytes <= 0 {
		c.BacklogBytes = DefaultBacklogBytes
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = DefaultJoinTimeout
	}
	c.Limits = c.Limits.withDefaults()
	return nil
}

// open makes the socket of type t and binds or connects its endpoints; it
// returns the bound addresses (a tcp port 0 resolved).
func open(t sockets.Type, opts []sockets.Option, eps []Endpoint) (*sockets.Socket, []string, error) {
	s, err := sockets.New(t, opts...)
	if err != nil {
		return nil, nil, err
	}
	addrs := make([]string, 0, len(eps))
	for _, e := range eps {
		if e.Bind {
			a, err := s.Listen(e.Addr)
			if err != nil {
				s.Close()
				return nil, nil, err
			}
			addrs = append(addrs, a)
			continue
		}
		if err := s.Dial(e.Addr); err != nil {
			s.Close()
			return nil, nil, err
		}
		addrs = append(addrs, e.Addr)
	}
	return s, addrs, nil
}
