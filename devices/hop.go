package devices

import (
	"context"

	"github.com/zmqkit/zmqkit/sockets"
)

// HopFunc observes, and may annotate, each message a proxy forwards: one
// hop of its way. It is called just before the message is sent out of
// the other side, with in true for frontend → backend and false for
// backend → frontend. It returns the message to send (m itself, or m with
// a frame replaced, such as its header frame: see sockets.FindHeaders),
// and a function the proxy calls once with the send's result (nil: none
// needed). A tracer makes each hop a span this way (contrib/otel's
// ProxyHop): the core does not depend on it.
//
// The proxy forwards frames as they came when it has no HopFunc; a
// HopFunc that replaces a frame must give the message a new slice of
// frames, not write into m's.
type HopFunc func(ctx context.Context, m sockets.Msg, in bool) (sockets.Msg, func(error))

// WithHop calls h for every message the proxy forwards (see HopFunc).
// Without it the proxy's hot path pays one nil check.
func WithHop(h HopFunc) Option {
	return func(p *Proxy) error { p.hop = h; return nil }
}

// forward sends m out of dst, through the hop function if there is one.
func (p *Proxy) forward(ctx context.Context, dst *sockets.Socket, m sockets.Msg, in bool) error {
	if p.hop == nil {
		return dst.SendMsg(ctx, m)
	}
	m, done := p.hop(ctx, m, in)
	err := dst.SendMsg(ctx, m)
	if done != nil {
		done(err)
	}
	return err
}

// forwardAll sends ms out of dst in order, through the hop function if
// there is one, and returns how many it sent.
func (p *Proxy) forwardAll(ctx context.Context, dst *sockets.Socket, ms []sockets.Msg, in bool) (int, error) {
	if p.hop == nil {
		return dst.SendMsgs(ctx, ms)
	}
	for i, m := range ms {
		if err := p.forward(ctx, dst, m, in); err != nil {
			return i, err
		}
	}
	return len(ms), nil
}
