package zmqotel

import (
	"context"
	"errors"
	"fmt"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Sender is a typed socket that sends one value at a time
// (sockets.PushOf, PairOf, DealerOf), made WithHeaders(true).
type Sender[T any] interface {
	Send(ctx context.Context, v T) error
	Raw() *sockets.Socket
}

// Receiver is a typed socket that receives one value at a time with its
// headers and sender (sockets.PullOf, PairOf, DealerOf), made
// WithHeaders(true).
type Receiver[T any] interface {
	RecvFromWithHeaders(ctx context.Context) (T, sockets.Headers, sockets.Peer, error)
	Raw() *sockets.Socket
}

// StartSend starts the PRODUCER span of one message to dest and returns
// a context that carries it and, for a socket made WithHeaders, headers
// with its trace context (sockets.ContextWithHeaders, on top of any the
// context carried already): send the message with that context, then
// call end with the send's error.
func (t *Telemetry) StartSend(ctx context.Context, s *sockets.Socket, dest string) (context.Context, func(error)) {
	ctx, span := t.tracer.Start(ctx, spanName("send", dest), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			keySystem.String(System), keyOpName.String("send"), keyOpType.String("send"),
			keyDestination.String(dest), keySocketType.String(s.Type().String()),
		))
	ctx = t.inject(ctx)
	return ctx, func(err error) { finish(span, err) }
}

// inject writes ctx's span context and baggage into a copy of ctx's
// headers.
func (t *Telemetry) inject(ctx context.Context) context.Context {
	old, _ := sockets.HeadersFromContext(ctx)
	h := make(sockets.Headers, len(old)+3)
	for k, v := range old {
		h[k] = v
	}
	t.prop.Inject(ctx, propagation.MapCarrier(h))
	return sockets.ContextWithHeaders(ctx, h)
}

// extract is the context h carries, on top of ctx but never with ctx's
// own span as the parent: a message without trace context must start a
// new trace, not join the receiving goroutine's.
func (t *Telemetry) extract(ctx context.Context, h sockets.Headers) context.Context {
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	return t.prop.Extract(ctx, propagation.MapCarrier(h))
}

// StartProcess starts the CONSUMER span of one message received from
// dest with headers h from peer from: its parent is the context h
// carries (with its baggage), or with none, the span starts a new trace.
// The returned context carries the span, and h (sockets.HeadersFromContext).
func (t *Telemetry) StartProcess(ctx context.Context, s *sockets.Socket, dest string, h sockets.Headers, from sockets.Peer) (context.Context, trace.Span) {
	if h != nil {
		ctx = sockets.ContextWithHeaders(ctx, h)
	}
	pctx := t.extract(ctx, h)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		keySystem.String(System), keyOpName.String("process"), keyOpType.String("process"),
		keyDestination.String(dest), keySocketType.String(s.Type().String()),
	)}
	if !trace.SpanContextFromContext(pctx).IsValid() {
		// No context came with the message: a new trace, not a child
		// of whatever span the receiving goroutine runs in.
		opts = append(opts, trace.WithNewRoot())
	}
	ctx, span := t.tracer.Start(pctx, spanName("process", dest), opts...)
	peerAttrs(span, from)
	return ctx, span
}

func peerAttrs(span trace.Span, from sockets.Peer) {
	if from.Remote != "" {
		span.SetAttributes(keyPeerAddress.String(from.Remote))
	}
	if from.UserID != "" {
		span.SetAttributes(keyPeerUserID.String(from.UserID))
	}
}

// finish ends span, with err as its status.
func finish(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(keyErrorType.String(errorType(err)))
	}
	span.End()
}

// errorType is a low-cardinality class of err for error.type.
func errorType(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, sockets.ErrClosed):
		return "closed"
	case errors.Is(err, sockets.ErrMalformedHeaders):
		return "malformed_headers"
	case errors.Is(err, sockets.ErrRemote):
		return "remote"
	}
	return fmt.Sprintf("%T", errors.Unwrap(err))
}

// Send sends v on s within a PRODUCER span (StartSend), its trace context
// in the message's header frame.
func Send[T any](ctx context.Context, t *Telemetry, s Sender[T], dest string, v T) error {
	ctx, end := t.StartSend(ctx, s.Raw(), dest)
	err := s.Send(ctx, v)
	end(err)
	return err
}

// Recv receives a value from s and starts its CONSUMER span (see
// StartProcess): call end, with the processing's error, when done with
// the value. ctx carries the span, for the spans of that processing.
// When the receive fails, no span is started and end does nothing.
func Recv[T any](ctx context.Context, t *Telemetry, s Receiver[T], dest string) (context.Context, T, func(error), error) {
	slot := &recvSlot{}
	v, h, from, err := s.RecvFromWithHeaders(context.WithValue(ctx, recvSlotKey{}, slot))
	if err != nil && !errors.Is(err, codec.ErrDecode) {
		return ctx, v, func(error) {}, err
	}
	pctx, span := t.StartProcess(ctx, s.Raw(), dest, h, from)
	if slot.seen {
		span.SetAttributes(keyEnvelopeSize.Int(slot.size), keyMessageFrames.Int(slot.frames))
	}
	if err != nil {
		finish(span, err) // a value that did not decode: its span says why
		return pctx, v, func(error) {}, err
	}
	return pctx, v, func(perr error) { finish(span, perr) }, nil
}

// Process receives one value from s and runs handle on it within its
// CONSUMER span, returning handle's error (or the receive's).
func Process[T any](ctx context.Context, t *Telemetry, s Receiver[T], dest string, handle func(context.Context, T) error) error {
	pctx, v, end, err := Recv(ctx, t, s, dest)
	if err != nil {
		return err
	}
	err = handle(pctx, v)
	end(err)
	return err
}

// recvSlot is where Hook leaves the size of the message a Recv took, for
// the span Recv starts after it.
type recvSlot struct {
	seen         bool
	size, frames int
}

type recvSlotKey struct{}

// Hook returns a socket hook (sockets.WithHooks) that adds each message's
// size and frame count to its span: the PRODUCER span of a Send, the
// CONSUMER span of a Recv. Without it spans have no size. It reads only
// lengths, never a message's bytes.
func (t *Telemetry) Hook() sockets.Hook { return sizeHook{} }

type sizeHook struct{}

func (sizeHook) OnSend(ctx context.Context, m sockets.Msg) {
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		span.SetAttributes(keyEnvelopeSize.Int(m.Size()), keyMessageFrames.Int(m.Len()))
	}
}

func (sizeHook) OnRecv(ctx context.Context, m sockets.Msg, _ sockets.Peer) {
	if slot, ok := ctx.Value(recvSlotKey{}).(*recvSlot); ok {
		slot.seen, slot.size, slot.frames = true, m.Size(), m.Len()
	}
}

// Publish publishes v under topic on pub within a PRODUCER span
// "send <topic>", its trace context in the message's header frame (pub
// made WithHeaders(true)).
func Publish[T any](ctx context.Context, t *Telemetry, pub *sockets.PubOf[T], topic string, v T) error {
	ctx, end := t.StartSend(ctx, pub.Raw(), topic)
	err := pub.Publish(ctx, topic, v)
	end(err)
	return err
}

// RecvPublished receives an update from sub and starts its CONSUMER span
// "process <topic>" (see Recv; sub made WithHeaders(true)). A SUB does
// not learn which publisher sent an update, so the span names no peer.
func RecvPublished[T any](ctx context.Context, t *Telemetry, sub *sockets.SubOf[T]) (context.Context, sockets.Published[T], func(error), error) {
	slot := &recvSlot{}
	v, h, err := sub.RecvWithHeaders(context.WithValue(ctx, recvSlotKey{}, slot))
	if err != nil && !errors.Is(err, codec.ErrDecode) {
		return ctx, v, func(error) {}, err
	}
	pctx, span := t.StartProcess(ctx, sub.Raw(), v.Topic, h, sockets.Peer{})
	if slot.seen {
		span.SetAttributes(keyEnvelopeSize.Int(slot.size), keyMessageFrames.Int(slot.frames))
	}
	if err != nil {
		finish(span, err)
		return pctx, v, func(error) {}, err
	}
	return pctx, v, func(perr error) { finish(span, perr) }, nil
}
