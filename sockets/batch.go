package sockets

import (
	"context"
	"sync/atomic"
	"unsafe"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Batches: a device, or any code that moves messages in bulk, pays the
// socket's lock, its queue's lock and its counters once per batch rather
// than once per message. PUSH, PULL, DEALER, PAIR, PUB, XPUB (send), SUB
// and XSUB (receive) do so; the other types take the messages one by one,
// with the same results.

type batchSender interface {
	sendBatch(ctx context.Context, ms []engine.Msg) (int, error)
}

type batchReceiver interface {
	recvBatch(ctx context.Context, dst []engine.Msg) (int, error)
}

func (x *pushSocket) sendBatch(ctx context.Context, ms []engine.Msg) (int, error) {
	return x.lb.sendBatch(ctx, ms)
}
func (x *dealerSocket) sendBatch(ctx context.Context, ms []engine.Msg) (int, error) {
	return x.lb.sendBatch(ctx, ms)
}
func (x *pairSocket) sendBatch(ctx context.Context, ms []engine.Msg) (int, error) {
	return x.lb.sendBatch(ctx, ms)
}
func (x *pullSocket) recvBatch(ctx context.Context, dst []engine.Msg) (int, error) {
	return x.fq.recvBatch(ctx, dst, nil)
}
func (x *dealerSocket) recvBatch(ctx context.Context, dst []engine.Msg) (int, error) {
	return x.fq.recvBatch(ctx, dst, nil)
}
func (x *pairSocket) recvBatch(ctx context.Context, dst []engine.Msg) (int, error) {
	return x.fq.recvBatch(ctx, dst, nil)
}
func (x *subSocket) recvBatch(ctx context.Context, dst []engine.Msg) (int, error) {
	if x.xsub {
		return x.fq.recvBatch(ctx, dst, nil)
	}
	return x.fq.recvBatch(ctx, dst, func(m engine.Msg) bool { return x.matches(m.Head) })
}

// engineMsgs views ms as the engine's messages: Msg has engine.Msg's
// layout (Msg(m) and engine.Msg(m) convert without a copy), so the
// slice is the same memory.
func engineMsgs(ms []Msg) []engine.Msg {
	if len(ms) == 0 {
		return nil
	}
	return unsafe.Slice((*engine.Msg)(unsafe.Pointer(&ms[0])), len(ms))
}

// SendMsgs sends the messages of ms in order, each as SendMsg would
// (waiting while no peer has room, until ctx ends or the socket closes),
// and returns how many were sent: all of them, or those before the error.
// The socket takes their frames over. Over one pipe the whole batch goes
// into its queue under one lock, as far as the queue has room.
func (s *Socket) SendMsgs(ctx context.Context, ms []Msg) (int, error) {
	b, ok := s.b.(batchSender)
	if !ok || s.cfg.hooks.send != nil {
		for i, m := range ms {
			if err := s.SendMsg(ctx, m); err != nil {
				return i, err
			}
		}
		return len(ms), nil
	}
	n, err := b.sendBatch(ctx, engineMsgs(ms))
	countBatch(&s.st.msgsOut, &s.st.bytesOut, ms[:n])
	if err != nil {
		return n, s.errorf("send", "", err)
	}
	return n, nil
}

// RecvMsgs receives up to len(dst) messages into dst and returns how
// many: it waits for the first as RecvMsg does, then takes only those
// already queued, never waiting for more. Their frames are the caller's
// own. REQ and REP, whose receives must alternate with sends, receive one
// message a call.
func (s *Socket) RecvMsgs(ctx context.Context, dst []Msg) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	b, ok := s.b.(batchReceiver)
	if !ok || s.cfg.hooks.recv != nil {
		m, err := s.RecvMsg(ctx)
		if err != nil {
			return 0, err
		}
		dst[0] = m
		n := 1
		if s.typ == Req || s.typ == Rep {
			return n, nil
		}
		for n < len(dst) {
			m, err := s.take(ended, nil)
			if err != nil {
				break // it comes again on the next call, or was "none queued"
			}
			dst[n] = m
			n++
		}
		return n, nil
	}
	n, err := b.recvBatch(ctx, engineMsgs(dst))
	if err != nil {
		return 0, s.errorf("recv", "", err)
	}
	countBatch(&s.st.msgsIn, &s.st.bytesIn, dst[:n])
	return n, nil
}

// countBatch counts ms in one direction's Stats, as sent and received
// count one message, with one add to each counter for the lot.
func countBatch(msgs, bytes *atomic.Uint64, ms []Msg) {
	var b int
	for _, m := range ms {
		b += m.Size()
	}
	msgs.Add(uint64(len(ms)))
	bytes.Add(uint64(b))
}
