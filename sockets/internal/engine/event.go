package engine

import "time"

// EventKind names what happened to a connection.
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
	EventDialStopped                           // a Dial stopped reconnecting (Options.ReconnectStop); Err matches ErrDialStopped
	EventMemberAdded                           // a dial set dialed a new member (Remote)
	EventMemberRemoved                         // a dial set let a member (Remote) go
	EventResolveError                          // a dial set's lookup failed (members kept) or was only partly usable
)

var eventNames = [...]string{
	EventListening:        "listening",
	EventAccepted:         "accepted",
	EventConnected:        "connected",
	EventConnectRetried:   "connect-retried",
	EventDisconnected:     "disconnected",
	EventHandshakeFailed:  "handshake-failed",
	EventMessageTooLarge:  "message-too-large",
	EventHeartbeatTimeout: "heartbeat-timeout",
	EventRejected:         "rejected",
	EventProtocolError:    "protocol-error",
	EventClosed:           "closed",
	EventStalled:          "stalled",
	EventDialStopped:      "dial-stopped",
	EventMemberAdded:      "member-added",
	EventMemberRemoved:    "member-removed",
	EventResolveError:     "resolve-error",
}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event reports one change in a socket's connections.
type Event struct {
	Kind     EventKind
	Endpoint string // the socket's endpoint (as given to Listen or Dial)
	Remote   string // the peer's address, when known
	UserID   string // who the peer authenticated as (PLAIN, CURVE), on the side that checked it
	Err      error  // the reason, for failures and disconnects
	// Retry is how long a Dial waits before its next attempt
	// (EventConnectRetried).
	Retry time.Duration
}
