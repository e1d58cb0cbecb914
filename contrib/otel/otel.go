// Package zmqotel traces zmqkit messages with OpenTelemetry and reports
// sockets' and proxies' counters as OpenTelemetry metrics. It is a module
// of its own (github.com/zmqkit/zmqkit/contrib/otel) so that zmqkit's
// core does not depend on OpenTelemetry.
//
// Traces follow OpenTelemetry's messaging semantic conventions:
//
//   - Send starts a PRODUCER span "send <destination>" for one message and
//     carries its context to the receiver in the message's header frame
//     (sockets.WithHeaders): W3C traceparent and tracestate, and baggage.
//   - Recv and Process start a CONSUMER span "process <destination>" whose
//     parent is the context the message carried; a message without one
//     (from a peer without headers) starts a new trace.
//   - Call and Handler make CLIENT and SERVER spans for a request and its
//     handling (typed REQ/REP, and the queue device between them).
//   - ProxyHop gives a devices.Proxy a span per forwarded message
//     ("forward <proxy>"), a child of the sender's span and the parent of
//     the receiver's: client → proxy → worker is one trace.
//
// Every span has messaging.system "zeromq", messaging.operation.name and
// .type, messaging.destination.name (an endpoint or a topic, as the caller
// names it), messaging.zeromq.socket.type, and on the receiving side the
// peer's address (network.peer.address) and, when it authenticated (PLAIN,
// CURVE), its user (messaging.zeromq.peer.user_id). Register Hook on a
// socket (sockets.WithHooks) to add each message's size
// (messaging.message.envelope.size: all its frames, header frame
// included).
//
// ObserveSocket and ObserveProxy report Stats through asynchronous
// instruments: nothing is counted twice or added to the message path.
package zmqotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/zmqkit/zmqkit/contrib/otel"

// System is the value of messaging.system.
const System = "zeromq"

// Attribute keys, from the messaging semantic conventions, and zmqkit's
// own under messaging.zeromq.
const (
	keySystem        = attribute.Key("messaging.system")
	keyOpName        = attribute.Key("messaging.operation.name")
	keyOpType        = attribute.Key("messaging.operation.type")
	keyDestination   = attribute.Key("messaging.destination.name")
	keyEnvelopeSize  = attribute.Key("messaging.message.envelope.size")
	keyErrorType     = attribute.Key("error.type")
	keyPeerAddress   = attribute.Key("network.peer.address")
	keySocketType    = attribute.Key("messaging.zeromq.socket.type")
	keyPeerUserID    = attribute.Key("messaging.zeromq.peer.user_id")
	keyProxyForward  = attribute.Key("messaging.zeromq.proxy.direction")
	keyMessageFrames = attribute.Key("messaging.zeromq.message.frames")
)

// Telemetry holds the tracer, meter and propagator zmqkit's messages are
// traced with.
type Telemetry struct {
	tracer trace.Tracer
	meter  metric.Meter
	prop   propagation.TextMapPropagator
}

// Option configures a Telemetry.
type Option func(*config)

type config struct {
	tp   trace.TracerProvider
	mp   metric.MeterProvider
	prop propagation.TextMapPropagator
}

// WithTracerProvider sets where spans go (default: otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets where metrics go (default: otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithPropagator sets how a span's context is written into a message's
// headers and read back (default: W3C trace context and baggage).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// New makes a Telemetry.
func New(opts ...Option) *Telemetry {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return &Telemetry{
		tracer: c.tp.Tracer(ScopeName),
		meter:  c.mp.Meter(ScopeName),
		prop:   c.prop,
	}
}

// spanName is "<operation> <destination>", or the operation alone.
func spanName(op, dest string) string {
	if dest == "" {
		return op
	}
	return op + " " + dest
}
