package sockets

import (
	"context"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// pairSocket (RFC 31): exactly one peer; a second one is refused. Send
// waits while the peer's queue is full or there is no peer yet.
type pairSocket struct {
	s    *Socket
	lb   lb
	fq   fq
	peer *engine.Pipe
}

func (x *pairSocket) attach(p *engine.Pipe) error {
	if x.peer != nil {
		return ErrPeerTaken
	}
	x.peer = p
	x.lb.add(p)
	x.fq.add(p)
	return nil
}

func (x *pairSocket) detach(p *engine.Pipe) {
	if x.peer == p {
		x.peer = nil
	}
	x.lb.remove(p)
}

func (x *pairSocket) connected(*engine.Pipe) error { return nil }

func (x *pairSocket) send(ctx context.Context, m engine.Msg) error {
	_, err := x.lb.send(ctx, m)
	return err
}

func (x *pairSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	m, _, err := x.fq.recv(ctx, nil, from)
	return m, err
}
