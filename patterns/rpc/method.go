package rpc

import (
	"context"
	"fmt"

	"github.com/zmqkit/zmqkit/codec"
)

// Method describes one remote method: its name and the codecs of its
// request and reply. Declare it once and use it on both sides:
//
//	var Add = rpc.NewMethod("calc.add", codec.JSON[Operands](), codec.JSON[Sum]())
//	rpc.Handle(server, Add, func(ctx context.Context, q Operands) (Sum, error) { … })
//	sum, err := Add.Call(ctx, client, Operands{1, 2})
type Method[Q, R any] struct {
	name string
	req  codec.Codec[Q]
	res  codec.Codec[R]
}

// NewMethod describes a method. It panics on a nil codec, as a
// programming error found at start-up.
func NewMethod[Q, R any](name string, req codec.Codec[Q], res codec.Codec[R]) Method[Q, R] {
	if req == nil || res == nil {
		panic(fmt.Sprintf("rpc: method %q: nil codec", name))
	}
	return Method[Q, R]{name: name, req: req, res: res}
}

// Name is the method's name on the wire.
func (m Method[Q, R]) Name() string { return m.name }

// Call encodes q, calls the method through c and decodes the reply; see
// Client.Call for the errors. A reply that does not decode is an error
// matching codec.ErrDecode.
func (m Method[Q, R]) Call(ctx context.Context, c *Client, q Q) (R, error) {
	var zero R
	b, err := codec.Encode(m.req, q)
	if err != nil {
		return zero, fmt.Errorf("rpc: %s: %w", m.name, err)
	}
	out, err := c.Call(ctx, m.name, b)
	if err != nil {
		return zero, err
	}
	r, err := codec.Decode(m.res, out)
	if err != nil {
		return zero, fmt.Errorf("rpc: %s: reply: %w", m.name, err)
	}
	return r, nil
}

// Handle registers a typed handler for m on s. A request that does not
// decode is answered with CodeBadRequest, a reply that does not encode
// with CodeInternal.
func Handle[Q, R any](s *Server, m Method[Q, R], h func(ctx context.Context, req Q) (R, error)) {
	s.Handle(m.name, func(ctx context.Context, b []byte) ([]byte, error) {
		q, err := codec.Decode(m.req, b)
		if err != nil {
			return nil, Errorf(CodeBadRequest, "%s: %v", m.name, err)
		}
		r, err := h(ctx, q)
		if err != nil {
			return nil, err
		}
		out, err := codec.Encode(m.res, r)
		if err != nil {
			return nil, Errorf(CodeInternal, "%s: reply: %v", m.name, err)
		}
		return out, nil
	})
}
