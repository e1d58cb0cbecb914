package zmqotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	zmqotel "github.com/zmqkit/zmqkit/contrib/otel"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func setup(t *testing.T) (*zmqotel.Telemetry, *tracetest.SpanRecorder, trace.Tracer) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return zmqotel.New(zmqotel.WithTracerProvider(tp)), sr, tp.Tracer("test")
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		<-tk.C
	}
}

func raw(t *testing.T, typ sockets.Type) (*sockets.Socket, string) {
	t.Helper()
	s, err := sockets.New(typ)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	addr, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	return s, addr
}

func runProxy(t *testing.T, ctx context.Context, p *devices.Proxy) {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// byName indexes ended spans by name; each name must occur once.
func byName(t *testing.T, spans []sdktrace.ReadOnlySpan) map[string]sdktrace.ReadOnlySpan {
	t.Helper()
	out := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		require.NotContains(t, out, s.Name(), "one span named %s", s.Name())
		out[s.Name()] = s
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// chain checks that spans form one trace, each the parent of the next.
func chain(t *testing.T, spans ...sdktrace.ReadOnlySpan) {
	t.Helper()
	tid := spans[0].SpanContext().TraceID()
	assert.False(t, spans[0].Parent().IsValid(), "%s is the root", spans[0].Name())
	for i, s := range spans {
		assert.Equal(t, tid, s.SpanContext().TraceID(), "%s in the trace", s.Name())
		if i > 0 {
			assert.Equal(t, spans[i-1].SpanContext().SpanID(), s.Parent().SpanID(), "%s is the child of %s", s.Name(), spans[i-1].Name())
		}
		v, ok := attr(s, "messaging.system")
		assert.True(t, ok && v.AsString() == "zeromq", "%s: messaging.system", s.Name())
	}
}

// PUSH → streamer → PULL is one trace: send (PRODUCER) → forward
// (PRODUCER, in the proxy) → process (CONSUMER), baggage included.
func TestPushStreamerPullOneTrace(t *testing.T) {
	ctx := testCtx(t)
	tel, sr, _ := setup(t)
	front, fa := raw(t, sockets.Pull)
	back, ba := raw(t, sockets.Push)
	p, err := devices.NewStreamer(front, back, devices.WithHop(tel.ProxyHop("streamer")))
	require.NoError(t, err)
	runProxy(t, ctx, p)

	opts := []sockets.Option{sockets.WithHeaders(true), sockets.WithHooks(tel.Hook())}
	producer, err := sockets.NewPushOf(codec.String(), opts...)
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.Dial(fa))
	consumer, err := sockets.NewPullOf(codec.String(), opts...)
	require.NoError(t, err)
	defer consumer.Close()
	require.NoError(t, consumer.Dial(ba))

	member, err := baggage.NewMember("tenant", "acme")
	require.NoError(t, err)
	bag, err := baggage.New(member)
	require.NoError(t, err)
	require.NoError(t, zmqotel.Send(baggage.ContextWithBaggage(ctx, bag), tel, producer, "jobs", "hello"))
	var got, tenant string
	require.NoError(t, zmqotel.Process(ctx, tel, consumer, "jobs", func(ctx context.Context, v string) error {
		got, tenant = v, baggage.FromContext(ctx).Member("tenant").Value()
		return nil
	}))
	assert.Equal(t, "hello", got)
	assert.Equal(t, "acme", tenant, "baggage travels in the header frame")

	eventually(t, func() bool { return len(sr.Ended()) == 3 }, "three spans")
	spans := byName(t, sr.Ended())
	send, hop, process := spans["send jobs"], spans["forward streamer"], spans["process jobs"]
	require.NotNil(t, send)
	require.NotNil(t, hop)
	require.NotNil(t, process)
	chain(t, send, hop, process)
	assert.Equal(t, trace.SpanKindProducer, send.SpanKind())
	assert.Equal(t, trace.SpanKindProducer, hop.SpanKind())
	assert.Equal(t, trace.SpanKindConsumer, process.SpanKind())
	for _, s := range []sdktrace.ReadOnlySpan{send, process} {
		size, ok := attr(s, "messaging.message.envelope.size")
		assert.True(t, ok, "%s has a size", s.Name())
		assert.Greater(t, size.AsInt64(), int64(len("hello")), "%s: body and header frame", s.Name())
		dest, _ := attr(s, "messaging.destination.name")
		assert.Equal(t, "jobs", dest.AsString())
	}
	op, _ := attr(process, "messaging.operation.type")
	assert.Equal(t, "process", op.AsString())
	addr, ok := attr(process, "network.peer.address")
	assert.True(t, ok && addr.AsString() != "", "the consumer names its peer")
}

// REQ → queue → REP is one trace: call (CLIENT) → forward (the queue) →
// serve (SERVER). The reply, which carries no headers, makes no span.
func TestReqQueueRepOneTrace(t *testing.T) {
	ctx := testCtx(t)
	tel, sr, _ := setup(t)
	front, fa := raw(t, sockets.Router)
	back, ba := raw(t, sockets.Dealer)
	p, err := devices.NewQueue(front, back, devices.WithHop(tel.ProxyHop("queue")))
	require.NoError(t, err)
	runProxy(t, ctx, p)

	rep, err := sockets.NewRepOf(codec.String(), codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer rep.Close()
	require.NoError(t, rep.Dial(ba))
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- rep.Serve(sctx, zmqotel.Handler(tel, "echo", func(ctx context.Context, q string) (string, error) {
			return "re: " + q, nil
		}))
	}()
	defer func() { cancel(); <-served }()
	req, err := sockets.NewReqOf(codec.String(), codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer req.Close()
	require.NoError(t, req.Dial(fa))
	r, err := zmqotel.Call(ctx, tel, req, "echo", "hi")
	require.NoError(t, err)
	assert.Equal(t, "re: hi", r)

	eventually(t, func() bool { return len(sr.Ended()) == 3 }, "three spans")
	spans := byName(t, sr.Ended())
	call, hop, serve := spans["call echo"], spans["forward queue"], spans["serve echo"]
	require.NotNil(t, call)
	require.NotNil(t, hop)
	require.NotNil(t, serve)
	chain(t, call, hop, serve)
	assert.Equal(t, trace.SpanKindClient, call.SpanKind())
	assert.Equal(t, trace.SpanKindServer, serve.SpanKind())
}

// A message from a peer that sends no headers starts a new trace: the
// consumer's span is a root, not a child of the span its receiving
// goroutine runs in.
func TestMessageWithoutHeadersStartsNewTrace(t *testing.T) {
	ctx := testCtx(t)
	tel, sr, tracer := setup(t)
	consumer, err := sockets.NewPullOf(codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer consumer.Close()
	addr, err := consumer.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	plain, err := sockets.NewPushOf(codec.String())
	require.NoError(t, err)
	defer plain.Close()
	require.NoError(t, plain.Dial(addr))
	require.NoError(t, plain.Send(ctx, "untraced"))

	appCtx, app := tracer.Start(ctx, "app")
	pctx, v, end, err := zmqotel.Recv(appCtx, tel, consumer, "jobs")
	require.NoError(t, err)
	assert.Equal(t, "untraced", v)
	end(nil)
	app.End()
	process := trace.SpanFromContext(pctx)
	assert.False(t, process.SpanContext().Equal(app.SpanContext()))

	spans := byName(t, sr.Ended())
	p := spans["process jobs"]
	require.NotNil(t, p)
	assert.False(t, p.Parent().IsValid(), "a root span")
	assert.NotEqual(t, spans["app"].SpanContext().TraceID(), p.SpanContext().TraceID(), "a new trace")
}

// With PLAIN, the consumer's span names the user the peer authenticated as.
func TestProcessSpanNamesAuthenticatedUser(t *testing.T) {
	ctx := testCtx(t)
	tel, sr, _ := setup(t)
	consumer, err := sockets.NewPullOf(codec.String(), sockets.WithHeaders(true),
		sockets.WithPlainServer(func(u, p string) bool { return u == "alice" && p == "secret" }))
	require.NoError(t, err)
	defer consumer.Close()
	addr, err := consumer.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	producer, err := sockets.NewPushOf(codec.String(), sockets.WithHeaders(true), sockets.WithPlain("alice", "secret"))
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.Dial(addr))
	require.NoError(t, zmqotel.Send(ctx, tel, producer, "jobs", "x"))
	require.NoError(t, zmqotel.Process(ctx, tel, consumer, "jobs", func(context.Context, string) error { return nil }))
	p := byName(t, sr.Ended())["process jobs"]
	require.NotNil(t, p)
	user, ok := attr(p, "messaging.zeromq.peer.user_id")
	assert.True(t, ok)
	assert.Equal(t, "alice", user.AsString())
}

// The metrics mirror Stats.
func TestObserveSocketAndProxy(t *testing.T) {
	ctx := testCtx(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tel := zmqotel.New(zmqotel.WithMeterProvider(mp))

	front, fa := raw(t, sockets.Pull)
	back, ba := raw(t, sockets.Push)
	p, err := devices.NewStreamer(front, back)
	require.NoError(t, err)
	runProxy(t, ctx, p)
	producer, err := sockets.NewPush()
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.Dial(fa))
	consumer, err := sockets.NewPull()
	require.NoError(t, err)
	defer consumer.Close()
	require.NoError(t, consumer.Dial(ba))
	reg, err := tel.ObserveSocket("sink", consumer)
	require.NoError(t, err)
	defer reg.Unregister()
	preg, err := tel.ObserveProxy("streamer", p)
	require.NoError(t, err)
	defer preg.Unregister()
	for i := 0; i < 3; i++ {
		require.NoError(t, producer.Send(ctx, []byte("abcd")))
	}
	for i := 0; i < 3; i++ {
		_, err := consumer.Recv(ctx)
		require.NoError(t, err)
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					dir, _ := dp.Attributes.Value("zmqkit.direction")
					side, _ := dp.Attributes.Value("zmqkit.side")
					sums[m.Name+"/"+side.AsString()+"/"+dir.AsString()] += dp.Value
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					dir, _ := dp.Attributes.Value("zmqkit.direction")
					sums[m.Name+"//"+dir.AsString()] += dp.Value
				}
			}
		}
	}
	assert.EqualValues(t, 3, sums["messaging.client.consumed.messages//"])
	assert.EqualValues(t, 12, sums["zmqkit.socket.bytes//in"])
	assert.EqualValues(t, 1, sums["zmqkit.socket.peers//"])
	assert.EqualValues(t, 0, sums["zmqkit.socket.queue.messages//in"])
	assert.EqualValues(t, 3, sums["zmqkit.proxy.messages/frontend/in"])
	assert.EqualValues(t, 3, sums["zmqkit.proxy.messages/backend/out"])
}

// PUB → SUB: the topic is the destination, one trace.
func TestPubSubOneTrace(t *testing.T) {
	ctx := testCtx(t)
	tel, sr, _ := setup(t)
	opts := []sockets.Option{sockets.WithHeaders(true), sockets.WithHooks(tel.Hook())}
	pub, err := sockets.NewPubOf(codec.String(), opts...)
	require.NoError(t, err)
	defer pub.Close()
	addr, err := pub.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	sub, err := sockets.NewSubOf(codec.String(), append(opts, sockets.WithSubscribe("prices"))...)
	require.NoError(t, err)
	defer sub.Close()
	require.NoError(t, sub.Dial(addr))
	// A PUB drops what it sends before the subscription arrives: publish
	// until one gets through (each untraced attempt makes no span).
	eventually(t, func() bool {
		require.NoError(t, pub.Publish(ctx, "prices.warmup", "w"))
		_, err := sub.Raw().TryRecv()
		return err == nil
	}, "subscribed")
	require.NoError(t, zmqotel.Publish(ctx, tel, pub, "prices.eur", "1.08"))
	var got sockets.Published[string]
	for got.Topic != "prices.eur" {
		pctx, v, end, err := zmqotel.RecvPublished(ctx, tel, sub)
		require.NoError(t, err)
		got = v
		end(nil)
		_ = pctx
	}
	assert.Equal(t, "1.08", got.Value)
	spans := byName(t, endingIn(sr.Ended(), "prices.eur"))
	send, process := spans["send prices.eur"], spans["process prices.eur"]
	require.NotNil(t, send)
	require.NotNil(t, process)
	chain(t, send, process)
}

// endingIn keeps the spans whose name ends in dest.
func endingIn(spans []sdktrace.ReadOnlySpan, dest string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if len(s.Name()) >= len(dest) && s.Name()[len(s.Name())-len(dest):] == dest {
			out = append(out, s)
		}
	}
	return out
}
