package sockets

import (
	"context"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// dealerSocket (RFC 28): Send load-balances like PUSH, Recv fair-queues
// like PULL; frames pass unchanged.
type dealerSocket struct {
	lb lb
	fq fq
}

func (x *dealerSocket) attach(p *engine.Pipe) error  { x.lb.add(p); x.fq.add(p); return nil }
func (x *dealerSocket) detach(p *engine.Pipe)        { x.lb.remove(p) }
func (x *dealerSocket) connected(*engine.Pipe) error { return nil }

func (x *dealerSocket) send(ctx context.Context, m engine.Msg) error {
	_, err := x.lb.send(ctx, m)
	return err
}

func (x *dealerSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	m, _, err := x.fq.recv(ctx, nil, from)
	return m, err
}
