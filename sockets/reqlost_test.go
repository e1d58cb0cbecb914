package sockets_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/sockets"
)

// A REQ whose request left on a connection that then ended gets
// ErrRequestLost at once, not a wait until its deadline, and may send
// again; the new request reaches the REP that comes next.
func TestReqLostWhenTheConnectionEnds(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []sockets.Option
	}{{"strict", nil}, {"relaxed", []sockets.Option{sockets.WithReqRelaxed(true)}}, {"correlate", []sockets.Option{sockets.WithReqCorrelate(true)}}} {
		for _, tr := range semTransports {
			t.Run(mode.name+"/"+tr, func(t *testing.T) {
				ctx := semCtx(t, 20*time.Second)
				ep := semDialEndpoint(t, tr)
				req := semNew(t, sockets.Req, append(mode.opts, sockets.WithReconnect(10*time.Millisecond, 50*time.Millisecond))...)
				require.NoError(t, req.Dial(ep))

				rep1, err := sockets.New(sockets.Rep, sockets.WithLinger(0))
				require.NoError(t, err)
				_, err = rep1.Listen(ep)
				require.NoError(t, err)
				require.NoError(t, req.Send(ctx, []byte("one")))
				assert.Equal(t, semF("one"), semRecv(t, ctx, rep1))
				require.NoError(t, rep1.Close()) // gone without a reply

				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				start := time.Now()
				_, err = req.Recv(rctx)
				cancel()
				assert.ErrorIs(t, err, sockets.ErrRequestLost)
				assert.Less(t, time.Since(start), 5*time.Second, "told, not timed out")

				rep2 := semNew(t, sockets.Rep)
				_, err = rep2.Listen(ep)
				require.NoError(t, err)
				require.NoError(t, req.Send(ctx, []byte("two")), "the REQ may send again")
				assert.Equal(t, semF("two"), semRecv(t, ctx, rep2))
				require.NoError(t, rep2.Send(ctx, []byte("re two")))
				assert.Equal(t, semF("re two"), semRecv(t, ctx, req))
			})
		}
	}
}

// The REQ binds and the REP connects: when the REP goes, the pipe that took
// the request goes with it.
func TestReqLostWhenTheListenedPeerLeaves(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			req := semNew(t, sockets.Req)
			addr := semListen(t, req, tr)
			rep, err := sockets.New(sockets.Rep, sockets.WithLinger(0))
			require.NoError(t, err)
			require.NoError(t, rep.Dial(addr))
			require.NoError(t, req.Send(ctx, []byte("q")))
			assert.Equal(t, semF("q"), semRecv(t, ctx, rep))
			require.NoError(t, rep.Close())
			_, err = req.Recv(ctx)
			assert.ErrorIs(t, err, sockets.ErrRequestLost)
		})
	}
}

// A request that no connection has taken yet is not lost when connections
// come and go: it waits in the pipe and goes out on the next one.
func TestReqNotLostBeforeItLeaves(t *testing.T) {
	ctx := semCtx(t, 20*time.Second)
	ep := semFreeTCP(t)
	req := semNew(t, sockets.Req, sockets.WithReconnect(10*time.Millisecond, 50*time.Millisecond))
	require.NoError(t, req.Dial(ep))
	// A connection that comes and ends before the request exists.
	rep1, err := sockets.New(sockets.Rep, sockets.WithLinger(0))
	require.NoError(t, err)
	_, err = rep1.Listen(ep)
	require.NoError(t, err)
	semEventually(t, 5*time.Second, func() bool { return req.Stats().Connects == 1 }, "first connection")
	require.NoError(t, rep1.Close())
	semEventually(t, 5*time.Second, func() bool { return req.Stats().Disconnects == 1 }, "first connection gone")

	require.NoError(t, req.Send(ctx, []byte("waiting")))
	_, err = semTryRecv(req, 100*time.Millisecond)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "nobody took it: it waits")

	rep2 := semNew(t, sockets.Rep)
	_, err = rep2.Listen(ep)
	require.NoError(t, err)
	assert.Equal(t, semF("waiting"), semRecv(t, ctx, rep2))
	require.NoError(t, rep2.Send(ctx, []byte("answer")))
	assert.Equal(t, semF("answer"), semRecv(t, ctx, req))
}
