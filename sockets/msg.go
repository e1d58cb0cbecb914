package sockets

import (
	"context"
	"errors"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Msg is a multipart message in the form the socket keeps it: the first
// frame apart from the rest, so a single-frame message needs no slice.
// SendMsg and RecvMsg move Msg values without allocating; devices and
// other code that forwards messages use them instead of Send and Recv.
type Msg struct {
	Head []byte   // the first frame (possibly empty)
	Tail [][]byte // the frames after it; nil for a single-frame message
}

// Msg has the engine's layout, so that the conversions at the socket's
// edge cost nothing; its methods are the engine's.

// MsgOf builds a Msg from frames (frames itself is not kept).
func MsgOf(frames ...[]byte) Msg { return Msg(engine.MsgOf(frames)) }

// Len is the number of frames.
func (m Msg) Len() int { return 1 + len(m.Tail) }

// Frame returns frame i (0 is Head).
func (m Msg) Frame(i int) []byte { return engine.Msg(m).Frame(i) }

// Size is the payload size in bytes, all frames together.
func (m Msg) Size() int { return engine.Msg(m).Size() }

// Frames returns the frames as a new slice (one allocation).
func (m Msg) Frames() [][]byte { return engine.Msg(m).Frames() }

// Pop returns the message without its first frame (one empty frame if
// it had only one).
func (m Msg) Pop() Msg { return Msg(engine.Msg(m).Pop()) }

// Prepend returns the message with frame f in front (allocates the tail).
func (m Msg) Prepend(f []byte) Msg { return Msg(engine.Msg(m).Prepend(f)) }

// Clone copies the frames into memory of their own: one allocation for the
// bytes, one more for a multipart message's tail.
func (m Msg) Clone() Msg { return Msg(engine.Msg(m).Clone()) }

// SendMsg is Send for a Msg. The socket takes m's frames over.
func (s *Socket) SendMsg(ctx context.Context, m Msg) error {
	if err := s.b.send(ctx, engine.Msg(m)); err != nil {
		return s.errorf("send", "", err)
	}
	s.sent(m)
	if s.cfg.hooks.send != nil { // obs: hooks.go
		s.onSend(ctx, m)
	}
	return nil
}

// sent and received count a message in Stats.
func (s *Socket) sent(m Msg) {
	s.st.msgsOut.Add(1)
	s.st.bytesOut.Add(uint64(m.Size()))
}

func (s *Socket) received(m engine.Msg) Msg {
	s.st.msgsIn.Add(1)
	s.st.bytesIn.Add(uint64(m.Size()))
	return Msg(m)
}

// RecvMsg is Recv returning a Msg. Its frames are the caller's own.
func (s *Socket) RecvMsg(ctx context.Context) (Msg, error) {
	return s.recvMsg(ctx, nil)
}

// TrySendMsg is SendMsg that never waits: when no peer can take m now
// (every pipe at its HWM, no peer yet, a REQ with no peer), it returns at
// once with an error matching ErrWouldBlock, and m is not sent. A socket
// that drops rather than waits (PUB, ROUTER) drops as SendMsg would.
func (s *Socket) TrySendMsg(m Msg) error {
	if err := s.b.send(ended, engine.Msg(m)); err != nil {
		return s.errorf("send", "", wouldBlock(err))
	}
	s.sent(m)
	if s.cfg.hooks.send != nil { // obs: hooks.go
		s.onSend(context.Background(), m)
	}
	return nil
}

// TryRecvMsg is RecvMsg that never waits: with no message queued it
// returns at once with an error matching ErrWouldBlock.
func (s *Socket) TryRecvMsg() (Msg, error) {
	m, err := s.take(ended, nil)
	if err != nil {
		return Msg{}, s.errorf("recv", "", wouldBlock(err))
	}
	return m, nil
}

// ended is a context that has already ended. Every type's send and recv
// first try what they can do at once and only then wait on their context:
// given ended, they try once and return its error instead of waiting.
var ended = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// wouldBlock turns the error of a try (the ended context's) into
// ErrWouldBlock.
func wouldBlock(err error) error {
	if errors.Is(err, context.Canceled) {
		return ErrWouldBlock
	}
	return err
}

// RecvMsgFrom is RecvFrom returning a Msg.
func (s *Socket) RecvMsgFrom(ctx context.Context) (Msg, Peer, error) {
	var from *engine.Peer
	m, err := s.recvMsg(ctx, &from)
	return m, peerOf(from), err
}

func (s *Socket) recvMsg(ctx context.Context, from **engine.Peer) (Msg, error) {
	m, err := s.take(ctx, from)
	if err != nil {
		return Msg{}, s.errorf("recv", "", err)
	}
	return m, nil
}

// take receives the next message (ended: only one already queued),
// counts it, and shows it to the receive hooks with its peer.
func (s *Socket) take(ctx context.Context, from **engine.Peer) (Msg, error) {
	if s.cfg.hooks.recv != nil {
		// Declared here, pr is on the heap only for sockets with hooks.
		var pr *engine.Peer
		if from == nil {
			from = &pr
		}
		m, err := s.b.recv(ctx, from)
		if err != nil {
			return Msg{}, err
		}
		hctx := ctx
		if ctx == ended {
			hctx = context.Background()
		}
		s.onRecv(hctx, Msg(m), peerOf(*from))
		return s.received(m), nil
	}
	m, err := s.b.recv(ctx, from)
	if err != nil {
		return Msg{}, err
	}
	return s.received(m), nil
}
