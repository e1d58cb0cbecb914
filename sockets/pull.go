package sockets

import (
	"context"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// pullSocket (RFC 30): Recv fair-queues over the peers; Send is not supported.
type pullSocket struct{ fq fq }

func (x *pullSocket) attach(p *engine.Pipe) error  { x.fq.add(p); return nil }
func (x *pullSocket) detach(*engine.Pipe)          {}
func (x *pullSocket) connected(*engine.Pipe) error { return nil }

func (x *pullSocket) send(context.Context, engine.Msg) error { return ErrNotSupported }

func (x *pullSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	m, _, err := x.fq.recv(ctx, nil, from)
	return m, err
}
