package zmqotel

import (
	"context"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ProxyHop returns a devices.HopFunc (devices.WithHop) that makes every
// traced message a proxy forwards a span "forward <name>" (kind
// PRODUCER: the proxy sends it on), the child of the span the message
// carries, and rewrites the trace context in the message's header frame
// so that the receiver's span is the hop's child: client → proxy → worker
// is one chain. A message without a header frame, or with one that does
// not decode, is forwarded as it came, without a span: the proxy does
// not start traces of its own, nor change what it does not understand.
func (t *Telemetry) ProxyHop(name string) devices.HopFunc {
	return func(ctx context.Context, m sockets.Msg, in bool) (sockets.Msg, func(error)) {
		i := sockets.FindHeaders(m)
		if i < 0 {
			return m, nil
		}
		h, err := sockets.DecodeHeaders(m.Frame(i))
		if err != nil {
			return m, nil
		}
		pctx := t.extract(ctx, h)
		if !trace.SpanContextFromContext(pctx).IsValid() {
			return m, nil
		}
		dir := "backend"
		if !in {
			dir = "frontend"
		}
		sctx, span := t.tracer.Start(pctx, spanName("forward", name), trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				keySystem.String(System), keyOpName.String("forward"), keyOpType.String("send"),
				keyDestination.String(name), keyProxyForward.String(dir),
				keyEnvelopeSize.Int(m.Size()), keyMessageFrames.Int(m.Len()),
			))
		t.prop.Inject(sctx, propagation.MapCarrier(h))
		f, err := sockets.EncodeHeaders(h)
		if err != nil {
			finish(span, err)
			return m, nil
		}
		frames := m.Frames() // a new slice: m's own is not written
		frames[i] = f
		return sockets.MsgOf(frames...), func(err error) { finish(span, err) }
	}
}
