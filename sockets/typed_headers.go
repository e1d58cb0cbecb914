package sockets

import (
	"context"
)

// The typed sockets' header support (WithHeaders; headers.go has the
// format). Every typed socket that sends takes the headers of its send's
// context (ContextWithHeaders) and has a …WithHeaders form that takes
// them as an argument (TrySend, which has no context, sends none); every
// one that receives has RecvWithHeaders. A
// message with headers is its usual frames with the header frame in
// front of the value: [header, value]; a ROUTER's [id, header, value]; a
// PUB's [topic, header, value] (three frames even with an empty topic).

// decodeBody decodes a value that came with header frame hf.
func (t typed[T]) decodeBody(hf, body []byte) (T, Headers, error) {
	var zero T
	h, err := t.s.readHeaders(hf)
	if err != nil {
		return zero, nil, err
	}
	v, err := t.decode(body)
	return v, h, err
}

// sendWithFrame sends the encoded value b with the headers h (explicit)
// or, when explicit is false, those of ctx.
func (t typed[T]) sendWithFrame(ctx context.Context, b []byte, h Headers, explicit bool) error {
	var hf []byte
	var err error
	if explicit {
		if len(h) != 0 {
			hf, err = t.s.encodeHeaders(h)
		}
	} else {
		hf, err = t.s.headerFrame(ctx)
	}
	if err != nil {
		return err
	}
	if hf == nil {
		return t.s.SendMsg(ctx, Msg{Head: b})
	}
	return t.s.SendMsg(ctx, Msg{Head: hf, Tail: [][]byte{b}})
}

func (t typed[T]) sendValueHeaders(ctx context.Context, v T, h Headers) error {
	b, err := t.encode(v)
	if err != nil {
		return err
	}
	return t.sendWithFrame(ctx, b, h, true)
}

// recvValueHeaders receives a value and its headers (nil when the
// message had none).
func (t typed[T]) recvValueHeaders(ctx context.Context) (T, Headers, error) {
	m, err := t.s.RecvMsg(ctx)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	if len(m.Tail) == 1 && IsHeaderFrame(m.Head) {
		return t.decodeBody(m.Head, m.Tail[0])
	}
	v, err := t.decodeMsg(m)
	return v, nil, err
}

// recvValueFromHeaders is recvValueHeaders that also says who sent it.
func (t typed[T]) recvValueFromHeaders(ctx context.Context) (T, Headers, Peer, error) {
	m, from, err := t.s.RecvMsgFrom(ctx)
	if err != nil {
		var zero T
		return zero, nil, Peer{}, err
	}
	if len(m.Tail) == 1 && IsHeaderFrame(m.Head) {
		v, h, err := t.decodeBody(m.Head, m.Tail[0])
		return v, h, from, err
	}
	v, err := t.decodeMsg(m)
	return v, nil, from, err
}

// SendWithHeaders is Send with headers h (nil or empty: none), on a
// socket made WithHeaders(true); without it, an error matching
// ErrBadOption.
func (p *PushOf[T]) SendWithHeaders(ctx context.Context, v T, h Headers) error {
	return p.t.sendValueHeaders(ctx, v, h)
}

// RecvFromWithHeaders is RecvWithHeaders that also says who sent the
// value (see Socket.RecvFrom): a tracer names the authenticated peer.
func (p *PullOf[T]) RecvFromWithHeaders(ctx context.Context) (T, Headers, Peer, error) {
	return p.t.recvValueFromHeaders(ctx)
}

// RecvWithHeaders is Recv that also returns the message's headers (nil
// when it had none); see WithHeaders.
func (p *PullOf[T]) RecvWithHeaders(ctx context.Context) (T, Headers, error) {
	return p.t.recvValueHeaders(ctx)
}

// SendWithHeaders is Send with headers (see PushOf.SendWithHeaders).
func (p *PairOf[T]) SendWithHeaders(ctx context.Context, v T, h Headers) error {
	return p.t.sendValueHeaders(ctx, v, h)
}

// RecvFromWithHeaders is RecvWithHeaders that also says who sent the
// value (see Socket.RecvFrom): a tracer names the authenticated peer.
func (p *PairOf[T]) RecvFromWithHeaders(ctx context.Context) (T, Headers, Peer, error) {
	return p.t.recvValueFromHeaders(ctx)
}

// RecvWithHeaders is Recv with the headers (see PullOf.RecvWithHeaders).
func (p *PairOf[T]) RecvWithHeaders(ctx context.Context) (T, Headers, error) {
	return p.t.recvValueHeaders(ctx)
}

// SendWithHeaders is Send with headers (see PushOf.SendWithHeaders).
func (d *DealerOf[T]) SendWithHeaders(ctx context.Context, v T, h Headers) error {
	return d.t.sendValueHeaders(ctx, v, h)
}

// RecvFromWithHeaders is RecvWithHeaders that also says who sent the
// value (see Socket.RecvFrom): a tracer names the authenticated peer.
func (d *DealerOf[T]) RecvFromWithHeaders(ctx context.Context) (T, Headers, Peer, error) {
	return d.t.recvValueFromHeaders(ctx)
}

// RecvWithHeaders is Recv with the headers (see PullOf.RecvWithHeaders).
func (d *DealerOf[T]) RecvWithHeaders(ctx context.Context) (T, Headers, error) {
	return d.t.recvValueHeaders(ctx)
}

// SendWithHeaders is Send with headers (see PushOf.SendWithHeaders).
func (r *RouterOf[T]) SendWithHeaders(ctx context.Context, id []byte, v T, h Headers) error {
	if len(h) != 0 && !r.t.s.cfg.headers {
		_, err := r.t.s.encodeHeaders(h) // the error
		return err
	}
	return r.Send(ContextWithHeaders(ctx, h), id, v)
}

// RecvWithHeaders is Recv with the headers (see PullOf.RecvWithHeaders).
func (r *RouterOf[T]) RecvWithHeaders(ctx context.Context) (Routed[T], Headers, error) {
	frames, err := r.t.s.Recv(ctx)
	if err != nil {
		return Routed[T]{}, nil, err
	}
	return r.routedHeaders(frames)
}

// PublishWithHeaders is Publish with headers (see PushOf.SendWithHeaders).
func (p *PubOf[T]) PublishWithHeaders(ctx context.Context, topic string, v T, h Headers) error {
	if len(h) != 0 && !p.t.s.cfg.headers {
		_, err := p.t.s.encodeHeaders(h) // the error
		return err
	}
	return p.Publish(ContextWithHeaders(ctx, h), topic, v)
}

// RecvWithHeaders is Recv with the headers (see PullOf.RecvWithHeaders).
func (s *SubOf[T]) RecvWithHeaders(ctx context.Context) (Published[T], Headers, error) {
	frames, err := s.t.s.Recv(ctx)
	if err != nil {
		return Published[T]{}, nil, err
	}
	return s.publishedHeaders(frames)
}

// sendRequest sends a REQ's encoded request b, with the headers of ctx
// when the socket was made WithHeaders.
func (c *ReqOf[Q, R]) sendRequest(ctx context.Context, b []byte) error {
	if c.s.cfg.headers {
		hf, err := c.s.headerFrame(ctx)
		if err != nil {
			return err
		}
		if hf != nil {
			return c.s.Send(ctx, hf, b)
		}
	}
	return c.s.Send(ctx, b)
}

// requestHeaders takes a request's header frame off frames, if it has
// one, and puts its headers in ctx for the handler.
func (s *RepOf[Q, R]) requestHeaders(ctx context.Context, frames [][]byte) ([][]byte, context.Context, error) {
	if len(frames) != 2 || !IsHeaderFrame(frames[0]) {
		return frames, ctx, nil
	}
	h, err := s.s.readHeaders(frames[0])
	if err != nil {
		return frames, ctx, err
	}
	return frames[1:], ContextWithHeaders(ctx, h), nil
}
