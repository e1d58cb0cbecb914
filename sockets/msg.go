package sockets

import (
	"context"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Msg is a multipart message in the form the socket keeps it: the first
// frame apart from the rest, so a single-frame message needs no slice.
// SendMsg and RecvMsg move Msg values without allocating; devices and
// other code that forwards messages use them instead of Send and Recv.
type Msg = engine.Msg

// MsgOf builds a Msg from frames (frames itself is not kept).
func MsgOf(frames ...[]byte) Msg { return engine.MsgOf(frames) }

// SendMsg is Send for a Msg. The socket takes m's frames over.
func (s *Socket) SendMsg(ctx context.Context, m Msg) error {
	if err := s.b.send(ctx, m); err != nil {
		return s.errorf("send", "", err)
	}
	s.st.msgsOut.Add(1)
	s.st.bytesOut.Add(uint64(m.Size()))
	return nil
}

// RecvMsg is Recv returning a Msg. Its frames are the caller's own.
func (s *Socket) RecvMsg(ctx context.Context) (Msg, error) {
	// recvMsg's body, written out: this is the hot path.
	m, err := s.b.recv(ctx, nil)
	if err != nil {
		return Msg{}, s.errorf("recv", "", err)
	}
	s.st.msgsIn.Add(1)
	s.st.bytesIn.Add(uint64(m.Size()))
	return m, nil
}

// RecvMsgFrom is RecvFrom returning a Msg.
func (s *Socket) RecvMsgFrom(ctx context.Context) (Msg, Peer, error) {
	var from *engine.Peer
	m, err := s.recvMsg(ctx, &from)
	return m, peerOf(from), err
}

func (s *Socket) recvMsg(ctx context.Context, from **engine.Peer) (Msg, error) {
	m, err := s.b.recv(ctx, from)
	if err != nil {
		return Msg{}, s.errorf("recv", "", err)
	}
	s.st.msgsIn.Add(1)
	s.st.bytesIn.Add(uint64(m.Size()))
	return m, nil
}
