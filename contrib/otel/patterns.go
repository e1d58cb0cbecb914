package zmqotel

import (
	"context"

	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/patterns/rpc"
	"github.com/zmqkit/zmqkit/sockets"
)

// RPCCall calls method on c within a CLIENT span "call <method>", its
// trace context in the request's header frame (c made with
// rpc.WithSocketOptions(sockets.WithHeaders(true))).
func RPCCall(ctx context.Context, t *Telemetry, c *rpc.Client, method string, req []byte) ([]byte, error) {
	ctx, end := t.StartCall(ctx, method, sockets.Dealer)
	r, err := c.Call(ctx, method, req)
	end(err)
	return r, err
}

// RPCHandler wraps h so that each call it serves runs within a SERVER
// span "serve <method>", the child of the caller's span (register it with
// rpc.Server.Handle; the server made with sockets.WithHeaders(true)).
func RPCHandler(t *Telemetry, method string, h rpc.HandlerFunc) rpc.HandlerFunc {
	return func(ctx context.Context, req []byte) ([]byte, error) {
		ctx, end := t.StartServe(ctx, method, sockets.Router)
		r, err := h(ctx, req)
		end(err)
		return r, err
	}
}

// MajordomoSend sends a request to service through c within a CLIENT
// span "call <service>", its trace context in a header frame in front of
// the body (c made with majordomo.WithSocketOptions(sockets.WithHeaders(true))).
// Every retry of the request carries the same context.
func MajordomoSend(ctx context.Context, t *Telemetry, c *majordomo.Client, service string, request ...[]byte) ([][]byte, error) {
	ctx, end := t.StartCall(ctx, service, sockets.Req)
	r, err := c.Send(ctx, service, request...)
	end(err)
	return r, err
}

// MajordomoHandler wraps a worker's handler so that each request it
// serves runs within a SERVER span "serve <service>", the child of the
// client's span (the worker made with
// majordomo.WithSocketOptions(sockets.WithHeaders(true))).
func MajordomoHandler(t *Telemetry, service string, h majordomo.Handler) majordomo.Handler {
	return func(ctx context.Context, request [][]byte) ([][]byte, error) {
		ctx, end := t.StartServe(ctx, service, sockets.Dealer)
		r, err := h(ctx, request)
		end(err)
		return r, err
	}
}
