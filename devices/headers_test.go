package devices_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

var hdrs = sockets.Headers{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}

// A streamer forwards a header frame as it came: the frames after it are
// byte for byte what the producer sent, and a typed PULL behind it gets
// the headers.
func TestStreamerPassesHeadersUntouched(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Pull), must(t, sockets.Push)
	fa, ba := listen(t, front), listen(t, back)
	p, err := devices.NewStreamer(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()

	producer, err := sockets.NewPushOf(codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.Dial(fa))
	raw := must(t, sockets.Pull)
	require.NoError(t, raw.Dial(ba))

	require.NoError(t, producer.SendWithHeaders(ctx, "v", hdrs))
	want, err := sockets.EncodeHeaders(hdrs)
	require.NoError(t, err)
	got, err := raw.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{want, []byte("v")}, got, "the frames as the producer sent them")

	require.NoError(t, raw.Close())
	testutil.Eventually(t, 10*time.Second, func() bool { return back.Stats().Peers == 0 }, "the raw PULL gone")
	typed, err := sockets.NewPullOf(codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer typed.Close()
	require.NoError(t, typed.Dial(ba))
	require.NoError(t, producer.SendWithHeaders(ctx, "w", hdrs))
	v, h, err := typed.RecvWithHeaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "w", v)
	assert.Equal(t, hdrs, h)
}

// REQ → queue → REP: the request's headers reach the handler, and the
// frames the worker side sees are the client's after the envelope.
func TestQueuePassesHeadersUntouched(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Router), must(t, sockets.Dealer)
	fa, ba := listen(t, front), listen(t, back)
	p, err := devices.NewQueue(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()

	rep, err := sockets.NewRepOf(codec.String(), codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer rep.Close()
	require.NoError(t, rep.Dial(ba))
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- rep.Serve(sctx, func(ctx context.Context, q string) (string, error) {
			h, _ := sockets.HeadersFromContext(ctx)
			return q + " " + h["traceparent"], nil
		})
	}()
	req, err := sockets.NewReqOf(codec.String(), codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer req.Close()
	require.NoError(t, req.Dial(fa))
	r, err := req.Call(sockets.ContextWithHeaders(ctx, hdrs), "q")
	require.NoError(t, err)
	assert.Equal(t, "q "+hdrs["traceparent"], r)
	cancel()
	<-served
}

// A HopFunc sees every forwarded message once, may replace a frame, and
// hears how its send went.
func TestHopFunc(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Pull), must(t, sockets.Push)
	fa, ba := listen(t, front), listen(t, back)
	calls, dones := 0, make(chan error, 10)
	p, err := devices.NewStreamer(front, back, devices.WithHop(func(_ context.Context, m sockets.Msg, in bool) (sockets.Msg, func(error)) {
		calls++
		assert.True(t, in)
		i := sockets.FindHeaders(m)
		if i < 0 {
			return m, nil
		}
		frames := m.Frames()
		frames[i], _ = sockets.EncodeHeaders(sockets.Headers{"hop": "1"})
		return sockets.MsgOf(frames...), func(err error) { dones <- err }
	}))
	require.NoError(t, err)
	defer run(t, ctx, p)()
	producer, err := sockets.NewPushOf(codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.Dial(fa))
	consumer, err := sockets.NewPullOf(codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer consumer.Close()
	require.NoError(t, consumer.Dial(ba))
	require.NoError(t, producer.SendWithHeaders(ctx, "a", hdrs))
	require.NoError(t, producer.Send(ctx, "b"))
	v, h, err := consumer.RecvWithHeaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "a", v)
	assert.Equal(t, sockets.Headers{"hop": "1"}, h)
	v, h, err = consumer.RecvWithHeaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "b", v)
	assert.Nil(t, h)
	assert.NoError(t, <-dones)
	assert.Equal(t, 2, calls)
}

// A forwarder passes a PUB's [topic, header frame, value] untouched.
func TestForwarderPassesHeadersUntouched(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.XSub), must(t, sockets.XPub)
	fa, ba := listen(t, front), listen(t, back)
	p, err := devices.NewForwarder(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()
	pub, err := sockets.NewPubOf(codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer pub.Close()
	require.NoError(t, pub.Dial(fa))
	sub := must(t, sockets.Sub, sockets.WithSubscribe("t."))
	require.NoError(t, sub.Dial(ba))
	waitDelivered(t, ctx, pub.Raw(), sub, "t.probe")
	require.NoError(t, pub.PublishWithHeaders(ctx, "t.x", "v", hdrs))
	want, err := sockets.EncodeHeaders(hdrs)
	require.NoError(t, err)
	for {
		m, err := sub.Recv(ctx)
		require.NoError(t, err)
		if string(m[0]) == "t.probe" {
			continue
		}
		assert.Equal(t, [][]byte{[]byte("t.x"), want, []byte("v")}, m)
		break
	}
}
