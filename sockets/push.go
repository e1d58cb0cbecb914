package sockets

import (
	"context"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// pushSocket (RFC 30): Send goes round-robin to one peer with room and
// waits when every peer is at its HWM; Recv is not supported.
type pushSocket struct{ lb lb }

func (x *pushSocket) attach(p *engine.Pipe) error  { x.lb.add(p); return nil }
func (x *pushSocket) detach(p *engine.Pipe)        { x.lb.remove(p) }
func (x *pushSocket) connected(*engine.Pipe) error { return nil }

func (x *pushSocket) send(ctx context.Context, m engine.Msg) error {
	_, err := x.lb.send(ctx, m)
	return err
}

func (x *pushSocket) recv(context.Context, **engine.Peer) (engine.Msg, error) {
	return engine.Msg{}, ErrNotSupported
}
