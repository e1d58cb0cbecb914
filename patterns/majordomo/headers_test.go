package majordomo_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/sockets"
)

// obs (issue 14): with sockets.WithHeaders on the client and the worker,
// the client's context headers travel through the broker (untouched, as
// the first body frame) into the handler's context; a worker without it
// refuses such a request (counted as a failure) rather than hand the
// handler a frame it does not expect.
func TestRequestCarriesHeaders(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	hdrs := sockets.Headers{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	b := startBroker(t, nil)
	with := majordomo.WithSocketOptions(sockets.WithHeaders(true))
	startWorker(t, b.ep[0], "tp", func(ctx context.Context, req [][]byte) ([][]byte, error) {
		h, _ := sockets.HeadersFromContext(ctx)
		return [][]byte{[]byte(h["traceparent"]), req[0]}, nil
	}, with)
	c := newClient(t, b.ep[0], with)
	reply, err := c.Send(sockets.ContextWithHeaders(ctx, hdrs), "tp", []byte("body"))
	require.NoError(t, err)
	assert.Equal(t, frames(hdrs["traceparent"], "body"), reply)
	reply, err = c.Send(ctx, "tp", []byte("plain"))
	require.NoError(t, err)
	assert.Equal(t, frames("", "plain"), reply)

	plain := startWorker(t, b.ep[0], "plain", echo("p"))
	reply, err = c.Send(ctx, "plain", []byte("x")) // the worker is there
	require.NoError(t, err)
	assert.Equal(t, frames("p:x"), reply)
	short := newClient(t, b.ep[0], with, majordomo.WithRetry(300*time.Millisecond, 1))
	_, err = short.Send(sockets.ContextWithHeaders(ctx, hdrs), "plain", []byte("x"))
	assert.ErrorIs(t, err, majordomo.ErrNoReply)
	eventually(t, 5*time.Second, func() bool { return plain.Stats().Failures >= 1 }, "the refusal counted (the broker may redeliver it): %+v", plain.Stats())
}
