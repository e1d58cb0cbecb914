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
	ctx, span := t.tracer.Start(ctx, spanName("call", dest), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			keySystem.String(System), keyOpName.String("call"), keyOpType.String("send"),
			keyDestination.String(dest), keySocketType.String(sockets.Req.String()),
		))
	r, err := req.Call(t.inject(ctx), q)
	finish(span, err)
	return r, err
}

// Handler wraps h so that each request it serves (sockets.RepOf.Serve,
// made WithHeaders(true)) runs within a SERVER span "serve <dest>",
// the child of the caller's span when the request carried its context,
// with the caller's address and authenticated user.
func Handler[Q, R any](t *Telemetry, dest string, h sockets.Handler[Q, R]) sockets.Handler[Q, R] {
	return func(ctx context.Context, q Q) (R, error) {
		hd, _ := sockets.HeadersFromContext(ctx)
		pctx := t.extract(ctx, hd)
		opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			keySystem.String(System), keyOpName.String("serve"), keyOpType.String("process"),
			keyDestination.String(dest), keySocketType.String(sockets.Rep.String()),
		)}
		if !trace.SpanContextFromContext(pctx).IsValid() {
			opts = append(opts, trace.WithNewRoot())
		}
		ctx, span := t.tracer.Start(pctx, spanName("serve", dest), opts...)
		if from, ok := sockets.PeerFromContext(ctx); ok {
			peerAttrs(span, from)
		}
		r, err := h(ctx, q)
		finish(span, err)
		return r, err
	}
}
