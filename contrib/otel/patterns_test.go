package zmqotel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	zmqotel "github.com/zmqkit/zmqkit/contrib/otel"
	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/patterns/rpc"
	"github.com/zmqkit/zmqkit/sockets"
	"go.opentelemetry.io/otel/trace"
)

// run runs f(ctx) in a goroutine until the test ends.
func goRun(t *testing.T, ctx context.Context, f func(context.Context) error) {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// An rpc call and its handling are one trace: CLIENT → SERVER.
func TestRPCClientServerSpans(t *testing.T) {
	ctx := testCtx(t)
	tel, sr, _ := setup(t)
	with := rpc.WithSocketOptions(sockets.WithHeaders(true))
	s, err := rpc.NewServer(with)
	require.NoError(t, err)
	defer s.Close()
	s.Handle("upper", zmqotel.RPCHandler(tel, "upper", func(_ context.Context, b []byte) ([]byte, error) { return b, nil }))
	addr, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	goRun(t, ctx, s.Run)
	c, err := rpc.NewClient(with)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Dial(addr))
	r, err := zmqotel.RPCCall(ctx, tel, c, "upper", []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(r))
	eventually(t, func() bool { return len(sr.Ended()) == 2 }, "two spans")
	spans := byName(t, sr.Ended())
	call, serve := spans["call upper"], spans["serve upper"]
	require.NotNil(t, call)
	require.NotNil(t, serve)
	chain(t, call, serve)
	assert.Equal(t, trace.SpanKindClient, call.SpanKind())
	assert.Equal(t, trace.SpanKindServer, serve.SpanKind())
}

// A majordomo request through the broker and its handling by a worker
// are one trace: CLIENT → SERVER.
func TestMajordomoClientWorkerSpans(t *testing.T) {
	ctx := testCtx(t)
	tel, sr, _ := setup(t)
	with := majordomo.WithSocketOptions(sockets.WithHeaders(true))
	b, err := majordomo.NewBroker()
	require.NoError(t, err)
	defer b.Close()
	addr, err := b.Bind("tcp://127.0.0.1:0")
	require.NoError(t, err)
	goRun(t, ctx, b.Run)
	w, err := majordomo.NewWorker(addr, "echo", zmqotel.MajordomoHandler(tel, "echo", func(_ context.Context, req [][]byte) ([][]byte, error) {
		return req, nil
	}), with)
	require.NoError(t, err)
	goRun(t, ctx, w.Run)
	c, err := majordomo.NewClient(addr, with)
	require.NoError(t, err)
	defer c.Close()
	r, err := zmqotel.MajordomoSend(ctx, tel, c, "echo", []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("x")}, r)
	eventually(t, func() bool { return len(sr.Ended()) == 2 }, "two spans")
	spans := byName(t, sr.Ended())
	call, serve := spans["call echo"], spans["serve echo"]
	require.NotNil(t, call)
	require.NotNil(t, serve)
	chain(t, call, serve)
}
