package sockets

import (
	"errors"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Errors returned by sockets; test them with errors.Is.
var (
	// ErrClosed is returned by every call on a closed socket, including the
	// calls that were blocked when Close ran.
	ErrClosed = errors.New("zmqkit: socket closed")
	// ErrNotSupported is returned for an operation the socket type lacks
	// (Recv on PUB, Send on SUB, Subscribe on PUSH, …).
	ErrNotSupported = errors.New("zmqkit: operation not supported by this socket type")
	// ErrRequestLost is returned by a REQ's Recv when the connection its
	// request left on has ended: no reply can come back over it (libzmq's
	// REQ would wait forever). The REQ may send again at once.
	ErrRequestLost = errors.New("zmqkit: the connection that took the request ended; no reply can come")
	// ErrState is returned when REQ or REP calls come out of order.
	ErrState = errors.New("zmqkit: operation not valid in the socket's current state")
	// ErrHostUnreachable is returned by a mandatory ROUTER for an unknown
	// routing id.
	ErrHostUnreachable = errors.New("zmqkit: no peer with that routing id")
	// ErrEmptyMessage is returned when a message has no frame where one is needed.
	ErrEmptyMessage = errors.New("zmqkit: message has no frames")
	// ErrPeerTaken is returned (as a monitor event) when a second peer
	// connects to a PAIR socket.
	ErrPeerTaken = errors.New("zmqkit: PAIR socket already has a peer")
	// ErrDuplicateID is the reason a ROUTER refuses a peer whose routing id
	// is already connected (unless WithRouterHandover).
	ErrDuplicateID = errors.New("zmqkit: duplicate routing id")
	// ErrBadOption is returned by New for an option value out of range, or
	// an option the socket's type does not take.
	ErrBadOption = errors.New("zmqkit: invalid option")

	// ErrBadEndpoint is returned by Listen and Dial for an endpoint that
	// cannot be parsed.
	ErrBadEndpoint = engine.ErrBadEndpoint
	// ErrAddrInUse is returned by Listen for an endpoint already bound.
	ErrAddrInUse = engine.ErrAddrInUse
	// ErrMessageTooLarge is the reason a connection is dropped when the peer
	// sends a message over WithMaxMsgSize.
	ErrMessageTooLarge = engine.ErrTooLarge
	// ErrHeartbeatTimeout is the reason a connection is dropped when the peer
	// stays silent past the heartbeat timeout or its TTL.
	ErrHeartbeatTimeout = engine.ErrHeartbeatTimeout
	// ErrStalled is the reason a connection is dropped when a message under
	// way stops making progress (WithProgressTimeout).
	ErrStalled = engine.ErrStalled
	// ErrFrameBudget is the reason a connection is dropped when a large
	// frame it sends would take the socket's budget for frames in progress
	// past its bound (WithLargeFrameBudget).
	ErrFrameBudget = engine.ErrBudget
	// ErrTooManyConnections is the reason a listening socket turns a
	// connection away at WithMaxConnections.
	ErrTooManyConnections = engine.ErrTooManyConnections
	// ErrPeerDisconnected is the reason in the EventDisconnected of a
	// connection that DisconnectPeer or DisconnectPeers dropped.
	ErrPeerDisconnected = engine.ErrDropped
	// ErrHandshake wraps every reason a ZMTP handshake fails.
	ErrHandshake = engine.ErrHandshake
	// ErrIncompatible is the reason a handshake fails when the peer's socket
	// type cannot talk to this one.
	ErrIncompatible = engine.ErrIncompatible
)
