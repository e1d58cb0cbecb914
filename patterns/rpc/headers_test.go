package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/patterns/rpc"
	"github.com/zmqkit/zmqkit/sockets"
)

// obs (issue 14): a call's context headers reach the handler's context
// when both sockets are made WithHeaders; a server without it answers
// CodeBadRequest rather than mis-reading the request.
func TestCallCarriesHeaders(t *testing.T) {
	hdrs := sockets.Headers{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	for _, serverHeaders := range []bool{true, false} {
		ctx := testCtx(t, 15*time.Second)
		s, err := rpc.NewServer(rpc.WithSocketOptions(sockets.WithHeaders(serverHeaders)))
		require.NoError(t, err)
		s.Handle("tp", func(ctx context.Context, _ []byte) ([]byte, error) {
			h, _ := sockets.HeadersFromContext(ctx)
			return []byte(h["traceparent"]), nil
		})
		addr, err := s.Listen(endpoint(t, "inproc"))
		require.NoError(t, err)
		serve(t, s)
		c, err := rpc.NewClient(rpc.WithSocketOptions(sockets.WithHeaders(true)))
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Dial(addr))

		got, err := c.Call(sockets.ContextWithHeaders(ctx, hdrs), "tp", nil)
		if !serverHeaders {
			assert.ErrorIs(t, err, rpc.ErrBadRequest)
			assert.Contains(t, err.Error(), "header frame")
			assert.EqualValues(t, 1, s.Stats().Malformed)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, hdrs["traceparent"], string(got))
		got, err = c.Call(ctx, "tp", nil)
		require.NoError(t, err)
		assert.Empty(t, got, "no headers, none in the handler's context")
	}
}
