package sockets

import (
	"errors"
	"strings"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// OpError is the error the methods of a socket return, after net.OpError:
// which operation failed, on which type of socket, at which endpoint if
// one is concerned, and why. Err is, or wraps, one of the sentinel errors
// below, a context's error, or a codec's; test it with errors.Is, and
// reach the OpError itself with errors.As.
type OpError struct {
	Op       string // "send", "recv", "listen", "dial", "unbind", "disconnect", "subscribe", …
	Socket   Type   // the type of the socket the operation was on
	Endpoint string // the endpoint it concerned, or ""
	Err      error  // the cause
}

// Error reads "zmqkit: <type> <op> <endpoint>: <cause>", the endpoint only
// when there is one.
func (e *OpError) Error() string {
	var b strings.Builder
	b.WriteString("zmqkit: ")
	b.WriteString(strings.ToLower(string(e.Socket)))
	b.WriteByte(' ')
	b.WriteString(e.Op)
	if e.Endpoint != "" {
		b.WriteByte(' ')
		b.WriteString(e.Endpoint)
	}
	if e.Err != nil {
		b.WriteString(": ")
		// The prefix is said once, even when the cause says it too (a
		// RemoteError, an error of another zmqkit package).
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "zmqkit: "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// errorf wraps err as the socket's OpError.
func (s *Socket) errorf(op, ep string, err error) error {
	return &OpError{Op: op, Socket: s.typ, Endpoint: ep, Err: err}
}

// Errors returned by sockets (inside an OpError) and given as the reason of
// monitor events; test them with errors.Is. Their text has no "zmqkit: "
// prefix: the OpError around them says it.
var (
	// ErrClosed is returned by every call on a closed socket, including the
	// calls that were blocked when Close ran.
	ErrClosed = errors.New("socket closed")
	// ErrWouldBlock is returned by TrySend and TryRecv (and their Msg
	// forms) when the message cannot be sent, or none received, without
	// waiting (libzmq's EAGAIN under ZMQ_DONTWAIT).
	ErrWouldBlock = errors.New("operation would block")
	// ErrNotSupported is returned for an operation the socket type lacks
	// (Recv on PUB, Send on SUB, Subscribe on PUSH, …).
	ErrNotSupported = errors.New("operation not supported by this socket type")
	// ErrRequestLost is returned by a REQ's Recv when the connection its
	// request left on has ended: no reply can come back over it (libzmq's
	// REQ would wait forever). The REQ may send again at once.
	ErrRequestLost = errors.New("the connection that took the request ended; no reply can come")
	// ErrState is returned when REQ or REP calls come out of order.
	ErrState = errors.New("operation not valid in the socket's current state")
	// ErrHostUnreachable is returned by a mandatory ROUTER for an unknown
	// routing id.
	ErrHostUnreachable = errors.New("no peer with that routing id")
	// ErrEmptyMessage is returned when a message has no frame where one is needed.
	ErrEmptyMessage = errors.New("message has no frames")
	// ErrPeerTaken is returned (as a monitor event) when a second peer
	// connects to a PAIR socket.
	ErrPeerTaken = errors.New("PAIR socket already has a peer")
	// ErrDuplicateID is the reason a ROUTER refuses a peer whose routing id
	// is already connected (unless WithRouterHandover).
	ErrDuplicateID = errors.New("duplicate routing id")
	// ErrBadOption is returned by New for an option value out of range, or
	// an option the socket's type does not take. Other zmqkit packages
	// wrap it for their own options.
	ErrBadOption = errors.New("invalid option")

	// The errors below are the engine's, under their public names (as
	// package os names internal/poll's errors).

	// ErrBadEndpoint is returned by Listen and Dial for an endpoint that
	// cannot be parsed.
	ErrBadEndpoint = errBadEndpoint() // "invalid endpoint"
	// ErrAddrInUse is returned by Listen for an endpoint already bound. For
	// tcp and ipc the error also matches syscall.EADDRINUSE.
	ErrAddrInUse = errAddrInUse() // "address already in use"
	// ErrMessageTooLarge is the reason a connection is dropped when the peer
	// sends a message over WithMaxMsgSize.
	ErrMessageTooLarge = errTooLarge() // "message larger than the maximum message size"
	// ErrHeartbeatTimeout is the reason a connection is dropped when the peer
	// stays silent past the heartbeat timeout or its TTL.
	ErrHeartbeatTimeout = errHeartbeatTimeout() // "heartbeat timeout: no traffic from the peer"
	// ErrStalled is the reason a connection is dropped when a message under
	// way stops making progress (WithProgressTimeout).
	ErrStalled = errStalled() // "message stalled: …"
	// ErrFrameBudget is the reason a connection is dropped when a large
	// frame it sends would take the socket's budget for frames in progress
	// past its bound (WithLargeFrameBudget).
	ErrFrameBudget = errBudget() // "large frames in progress exceed the socket's budget"
	// ErrTooManyConnections is the reason a listening socket turns a
	// connection away at WithMaxConnections.
	ErrTooManyConnections = errTooManyConnections() // "too many connections"
	// ErrPeerDisconnected is the reason in the EventDisconnected of a
	// connection that DisconnectPeer or DisconnectPeers dropped.
	ErrPeerDisconnected = errDropped() // "peer disconnected by the socket"
	// ErrHandshake wraps every reason a ZMTP handshake fails.
	ErrHandshake = errHandshake() // "handshake failed"
	// ErrIncompatible is the reason a handshake fails when the peer's socket
	// type cannot talk to this one.
	ErrIncompatible = errIncompatible() // "incompatible socket type"
	// ErrAuth matches the error of a connection whose credentials were
	// refused (PLAIN, CURVE), or whose peer WithAdmission refused, on
	// either side.
	ErrAuth = errAuth() // "authentication failed"
	// ErrRefused matches, beside ErrAuth, the error of a handshake that
	// WithAdmission refused, on the side that refused.
	ErrRefused = errRefused() // "peer refused by admission"
)

func errBadEndpoint() error        { return engine.ErrBadEndpoint }
func errAddrInUse() error          { return engine.ErrAddrInUse }
func errTooLarge() error           { return engine.ErrTooLarge }
func errHeartbeatTimeout() error   { return engine.ErrHeartbeatTimeout }
func errStalled() error            { return engine.ErrStalled }
func errBudget() error             { return engine.ErrBudget }
func errTooManyConnections() error { return engine.ErrTooManyConnections }
func errDropped() error            { return engine.ErrDropped }
func errHandshake() error          { return engine.ErrHandshake }
func errIncompatible() error       { return engine.ErrIncompatible }
func errAuth() error               { return engine.ErrAuth }
func errRefused() error            { return engine.ErrRefused }
