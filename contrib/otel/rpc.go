package zmqotel

import (
	"context"

	"github.com/zmqkit/zmqkit/sockets"
	"go.opentelemetry.io/otel/trace"
)

// Call makes the request q on req within a CLIENT span "call <dest>",
// its trace context in the request's header frame (req made
// WithHeaders(true)).
func Call[Q, R any](ctx context.Context, t *Telemetry, req *sockets.ReqOf[Q, R], dest string, q Q) (R, error) {
	ctx, end := t.StartCall(ctx, dest, sockets.Req)
	r, err := req.Call(ctx, q)
	end(err)
	return r, err
}

// StartCall starts the CLIENT span "call <dest>" of a request made over
// a socket of type typ, and returns a context that carries it and headers
// with its trace context: make the request with that context (a typed
// REQ, patterns/rpc, majordomo, made WithHeaders), then call end with its
// error. Call, RPCCall and MajordomoSend are built on it.
func (t *Telemetry) StartCall(ctx context.Context, dest string, typ sockets.Type) (context.Context, func(error)) {
	ctx, span := t.tracer.Start(ctx, spanName("call", dest), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			keySystem.String(System), keyOpName.String("call"), keyOpType.String("send"),
			keyDestination.String(dest), keySocketType.String(typ.String()),
		))
	return t.inject(ctx), func(err error) { finish(span, err) }
}

// StartServe starts the SERVER span "serve <dest>" of a request a handler
// serves, from the headers and peer in ctx (sockets.HeadersFromContext,
// PeerFromContext, as RepOf.Serve, rpc.Server and majordomo.Worker give
// their handlers): the caller's span is its parent, or with no trace
// context in the request, it starts a new trace. Handler, RPCHandler and
// MajordomoHandler are built on it.
func (t *Telemetry) StartServe(ctx context.Context, dest string, typ sockets.Type) (context.Context, func(error)) {
	hd, _ := sockets.HeadersFromContext(ctx)
	pctx := t.extract(ctx, hd)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		keySystem.String(System), keyOpName.String("serve"), keyOpType.String("process"),
		keyDestination.String(dest), keySocketType.String(typ.String()),
	)}
	if !trace.SpanContextFromContext(pctx).IsValid() {
		opts = append(opts, trace.WithNewRoot())
	}
	ctx, span := t.tracer.Start(pctx, spanName("serve", dest), opts...)
	if from, ok := sockets.PeerFromContext(ctx); ok {
		peerAttrs(span, from)
	}
	return ctx, func(err error) { finish(span, err) }
}

// Handler wraps h so that each request it serves (sockets.RepOf.Serve,
// made WithHeaders(true)) runs within a SERVER span "serve <dest>",
// the child of the caller's span when the request carried its context,
// with the caller's address and authenticated user.
func Handler[Q, R any](t *Telemetry, dest string, h sockets.Handler[Q, R]) sockets.Handler[Q, R] {
	return func(ctx context.Context, q Q) (R, error) {
		ctx, end := t.StartServe(ctx, dest, sockets.Rep)
		r, err := h(ctx, q)
		end(err)
		return r, err
	}
}
