package sockets

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Event reports one change in a socket's connections; see Socket.Events.
type Event struct {
	Kind     EventKind
	Endpoint string // the socket's endpoint (as given to Listen or Dial)
	Remote   string // the peer's address, when known
	UserID   string // who the peer authenticated as (PLAIN, CURVE), on the side that checked it
	Err      error  // the reason, for failures and disconnects
	// Retry is how long the Dial waits before its next attempt: set on
	// EventConnectRetried (the back-off of WithReconnect, jitter included).
	Retry time.Duration
}

// EventKind names what happened.
type EventKind uint8

// The monitor events, after libzmq's zmq_socket_monitor.
const (
	EventListening        EventKind = iota + 1 // a Listen endpoint is bound
	EventAccepted                              // a connection was accepted
	EventConnected                             // a handshake completed (either side)
	EventConnectRetried                        // a Dial attempt failed; another follows
	EventDisconnected                          // a connection ended, whatever the reason (after the event that names it, if any)
	EventHandshakeFailed                       // a handshake failed; Err says why
	EventMessageTooLarge                       // the peer sent more than the maximum message size; EventDisconnected follows
	EventHeartbeatTimeout                      // the peer went silent past the heartbeat timeout; EventDisconnected follows
	EventRejected                              // the socket refused a handshaken peer (duplicate identity, second PAIR peer)
	EventProtocolError                         // the peer broke the framing rules; EventDisconnected follows
	EventClosed                                // a Listen endpoint was closed
	EventStalled                               // a message under way stopped making progress (see ErrStalled)
	// EventDialStopped: a Dial stopped reconnecting on its own, after a
	// failure WithReconnectStop names or a refused PLAIN or CURVE
	// handshake (WithRetryAuthFailures); Err says why and matches
	// ErrDialStopped. Disconnect and Dial again to try anew.
	EventDialStopped
	// EventMemberAdded: a dial set (Dial of a resolver's endpoint, as
	// dns://name:port) dialed a new member. Endpoint is the set's endpoint
	// as given to Dial, Remote the member's (tcp://10.1.2.3:5555); the
	// member's own connection events carry the member's endpoint.
	EventMemberAdded
	// EventMemberRemoved: a dial set let a member go, because its resolver
	// no longer lists it or at Disconnect of the set. Endpoint and Remote
	// as for EventMemberAdded.
	EventMemberRemoved
	// EventResolveError: a dial set's resolver failed (Err says why; the
	// set keeps the members it has) or gave a set it could use only in
	// part: more members than WithMaxMembers (Err matches
	// ErrTooManyMembers), endpoints that are not ones to dial, names an
	// srv:// record points at that did not resolve. Endpoint is the set's.
	EventResolveError
)

// String returns the kind's name in lower case, as "connect-retried".
func (k EventKind) String() string { return engine.EventKind(k).String() }

// eventOf is the public form of an engine event. The kinds are numbered
// alike on both sides (TestEventKindsMatchEngine).
func eventOf(ev engine.Event) Event {
	return Event{Kind: EventKind(ev.Kind), Endpoint: ev.Endpoint, Remote: ev.Remote, UserID: ev.UserID, Err: ev.Err, Retry: ev.Retry}
}

// Stats is a snapshot of a socket's counters.
type Stats struct {
	MsgsIn, MsgsOut   uint64 // messages received by Recv / accepted by Send
	BytesIn, BytesOut uint64 // their payload bytes
	Dropped           uint64 // messages dropped at a full peer (PUB, XPUB, ROUTER, REP)
	Unroutable        uint64 // ROUTER messages for an unknown routing id
	Conflated         uint64 // messages replaced by a newer one (WithConflate)
	// SubscriptionsRefused counts subscriptions a PUB or XPUB turned down
	// (WithSubscriptionFilter).
	SubscriptionsRefused uint64
	DroppedReplies       uint64 // REQ replies dropped: malformed, stale (relaxed) or with another request id (correlate)
	Peers                int64  // pipes attached now (a Dial's pipe also while it reconnects; Socket.Peers lists the connected)
	Connects             uint64 // handshakes completed
	Disconnects          uint64 // connections that ended (any reason)
	HandshakeFailures    uint64 // connections dropped during the handshake
	AuthFailures         uint64 // of those, refusals (ErrAuth): credentials, CURVE key, WithAdmission
	TooLarge             uint64 // connections dropped for an oversize message
	HeartbeatTimeouts    uint64 // connections dropped for silence
	Stalled              uint64 // connections dropped for a message that stopped making progress (WithProgressTimeout)
	ProtocolErrors       uint64 // connections dropped for malformed frames
	Rejected             uint64 // peers refused after the handshake
	ConnectRetries       uint64 // failed Dial attempts
	EventsDropped        uint64 // monitor events lost to a full Events channel
	DecodeErrors         uint64 // messages a typed socket could not decode

	// SubscriptionsOverLimit counts subscriptions a PUB or XPUB turned
	// down because the subscriber held as many topics, or topic bytes, as
	// it may (WithMaxSubscriptions, WithMaxSubscriptionBytes).
	SubscriptionsOverLimit uint64

	// obs: HeaderErrors counts received header frames a typed socket
	// made WithHeaders could not read (ErrMalformedHeaders); each is in
	// DecodeErrors too.
	HeaderErrors uint64
	// Dial sets (Dial of dns://, srv://, list:// or a WithResolver scheme).
	Members        int64  // members dialed now, all sets together
	MembersAdded   uint64 // members dialed
	MembersRemoved uint64 // members let go
	// MembersOverCap counts endpoints a resolver gave beyond WithMaxMembers,
	// summed over its updates: each update that went over adds its excess.
	MembersOverCap uint64
	ResolveErrors  uint64 // EventResolveError events
	DialStops      uint64 // Dials that stopped reconnecting (EventDialStopped)
}

type counters struct {
	msgsIn, msgsOut, bytesIn, bytesOut atomic.Uint64
	dropped, unroutable, conflated     atomic.Uint64
	subsRefused                        atomic.Uint64
	droppedReplies                     atomic.Uint64
	peers                              atomic.Int64
	connects, disconnects, handshake   atomic.Uint64
	authFailures                       atomic.Uint64
	tooLarge, heartbeat, protocol      atomic.Uint64
	stalled                            atomic.Uint64
	rejected, retries, eventsDropped   atomic.Uint64
	decodeErrors                       atomic.Uint64
	subsOverLimit                      atomic.Uint64
	headerErrors                       atomic.Uint64 // obs
	members                            atomic.Int64
	membersAdded, membersRemoved       atomic.Uint64
	membersOverCap, resolveErrors      atomic.Uint64
	dialStops                          atomic.Uint64
}

func (c *counters) count(ev Event) {
	switch ev.Kind {
	case EventConnected:
		c.connects.Add(1)
	case EventDisconnected:
		// An end whose reason has its own event was counted with it, so
		// that Stats tells of it as soon as that event comes.
		if !engine.EndReported(ev.Err) {
			c.disconnects.Add(1)
		}
	case EventHandshakeFailed:
		c.handshake.Add(1)
		if errors.Is(ev.Err, engine.ErrAuth) {
			c.authFailures.Add(1)
		}
	case EventMessageTooLarge: // EventDisconnected follows
		c.tooLarge.Add(1)
		c.disconnects.Add(1)
	case EventHeartbeatTimeout:
		c.heartbeat.Add(1)
		c.disconnects.Add(1)
	case EventProtocolError:
		c.protocol.Add(1)
		c.disconnects.Add(1)
	case EventStalled:
		c.stalled.Add(1)
		c.disconnects.Add(1)
	case EventRejected:
		c.rejected.Add(1)
	case EventConnectRetried:
		c.retries.Add(1)
	case EventDialStopped:
		c.dialStops.Add(1)
	case EventMemberAdded:
		c.membersAdded.Add(1)
		c.members.Add(1)
	case EventMemberRemoved:
		c.membersRemoved.Add(1)
		c.members.Add(-1)
	case EventResolveError:
		c.resolveErrors.Add(1)
	}
}

// Stats returns a snapshot of the socket's counters.
func (s *Socket) Stats() Stats {
	c := &s.st
	return Stats{
		MsgsIn: c.msgsIn.Load(), MsgsOut: c.msgsOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		Dropped: c.dropped.Load(), Unroutable: c.unroutable.Load(), Conflated: c.conflated.Load(),
		SubscriptionsRefused: c.subsRefused.Load(),
		DroppedReplies:       c.droppedReplies.Load(), Peers: c.peers.Load(),
		Connects: c.connects.Load(), Disconnects: c.disconnects.Load(),
		HandshakeFailures: c.handshake.Load(), AuthFailures: c.authFailures.Load(), TooLarge: c.tooLarge.Load(),
		HeartbeatTimeouts: c.heartbeat.Load(), ProtocolErrors: c.protocol.Load(), Stalled: c.stalled.Load(),
		Rejected: c.rejected.Load(), ConnectRetries: c.retries.Load(),
		EventsDropped: c.eventsDropped.Load(), DecodeErrors: c.decodeErrors.Load(),
		SubscriptionsOverLimit: c.subsOverLimit.Load(),
		HeaderErrors:           c.headerErrors.Load(), // obs
		Members:                c.members.Load(), MembersAdded: c.membersAdded.Load(), MembersRemoved: c.membersRemoved.Load(),
		MembersOverCap: c.membersOverCap.Load(), ResolveErrors: c.resolveErrors.Load(), DialStops: c.dialStops.Load(),
	}
}
