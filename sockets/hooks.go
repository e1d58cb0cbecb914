package sockets

import (
	"context"
	"fmt"
)

// Hooks observe what a socket does: the messages its Send accepts and its
// Recv hands out, and the connections it makes and loses. A hook is any
// value; the socket calls it where it implements one of the interfaces
// below (SendHook, RecvHook, ConnectHook, DisconnectHook), so a hook takes
// only what it cares about and later kinds can be added without breaking
// it. Register hooks with WithHooks.
//
// The shape is franz-go's (kgo.Hook), not connect-go's interceptors, and
// on purpose:
//
//   - A hook observes; it cannot change, hold back or reorder a message.
//     An interceptor wraps the call and must call next: one that forgets
//     to, or calls it twice, breaks the socket's exactly-once contract,
//     and its closure chain costs an allocation or two on every message.
//     What needs to change a message (trace context in a header frame)
//     does so above the socket, in the typed API (see Headers), where the
//     message is built.
//   - With no hook of a kind registered, that kind costs one length check
//     of a nil slice on the path it sits on: nothing measurable
//     (BenchmarkHooks; allocs/op the same with and without).
//   - Connection hooks get the Event the monitor channel gets, so the two
//     never disagree, and unlike Events they cannot be dropped.
//
// Hooks run on the goroutine of the call they observe (Send, Recv, a
// connection's reader for connect and disconnect) and must be quick and
// safe for concurrent use; a slow hook slows the socket down.
type Hook any

// SendHook is called once for each message Send (or SendMsg, TrySend,
// TrySendMsg, the typed sockets' Send) has accepted: queued for a peer,
// or for PUB and ROUTER, dropped as its type drops. A send that fails
// (ctx ended, ErrWouldBlock, ErrClosed) is not reported. ctx is the
// caller's (context.Background for TrySend). The hook runs once the
// socket holds m: m.Len and m.Size are always safe to read, but m's frames
// belong to the socket, and on a socket with an inproc peer they may be in
// that peer's receiver's hands already (it may modify them), so a hook
// that reads the bytes (a topic, a header frame) does so only on sockets
// without inproc peers, or reads them in the typed API before sending.
// Never modify them.
type SendHook interface {
	OnSend(ctx context.Context, m Msg)
}

// RecvHook is called once for each message Recv (or RecvMsg, RecvFrom,
// TryRecv, the typed sockets' receives) hands to the application, just
// before it does, with the peer it came from (the zero Peer for an
// XPUB's cancel on behalf of a departed subscriber; Queue is not
// filled). m's frames are the receiver's: read them during the call only.
type RecvHook interface {
	OnRecv(ctx context.Context, m Msg, from Peer)
}

// ConnectHook is called once for each completed handshake (EventConnected).
type ConnectHook interface {
	OnConnect(ev Event)
}

// DisconnectHook is called once for each connection that ended after its
// handshake began (EventDisconnected), whatever the reason (ev.Err).
type DisconnectHook interface {
	OnDisconnect(ev Event)
}

// hooks are a socket's hooks sorted by kind, so that each call site looks
// only at its own list: a nil slice when none is registered.
type hooks struct {
	send       []SendHook
	recv       []RecvHook
	connect    []ConnectHook
	disconnect []DisconnectHook
}

// WithHooks registers hooks (see Hook) on the socket, in addition to any
// registered before; they are called in the order given. A hook that
// implements none of the hook interfaces is refused with ErrBadOption, as
// is a nil one. libzmq has no such option (its monitor socket reports
// connections, not messages).
func WithHooks(hs ...Hook) Option {
	return func(c *config) error {
		for _, h := range hs {
			ok := false
			if x, is := h.(SendHook); is {
				c.hooks.send = append(c.hooks.send, x)
				ok = true
			}
			if x, is := h.(RecvHook); is {
				c.hooks.recv = append(c.hooks.recv, x)
				ok = true
			}
			if x, is := h.(ConnectHook); is {
				c.hooks.connect = append(c.hooks.connect, x)
				ok = true
			}
			if x, is := h.(DisconnectHook); is {
				c.hooks.disconnect = append(c.hooks.disconnect, x)
				ok = true
			}
			if !ok {
				return fmt.Errorf("%w: hook %T implements none of SendHook, RecvHook, ConnectHook, DisconnectHook", ErrBadOption, h)
			}
		}
		return nil
	}
}

// onSend runs the send hooks (only called when there are some).
func (s *Socket) onSend(ctx context.Context, m Msg) {
	for _, h := range s.cfg.hooks.send {
		h.OnSend(ctx, m)
	}
}

// onRecv runs the receive hooks (only called when there are some).
func (s *Socket) onRecv(ctx context.Context, m Msg, from Peer) {
	for _, h := range s.cfg.hooks.recv {
		h.OnRecv(ctx, m, from)
	}
}

// onEvent runs the connection hooks for ev.
func (s *Socket) onEvent(ev Event) {
	switch ev.Kind {
	case EventConnected:
		for _, h := range s.cfg.hooks.connect {
			h.OnConnect(ev)
		}
	case EventDisconnected:
		for _, h := range s.cfg.hooks.disconnect {
			h.OnDisconnect(ev)
		}
	}
}
