package sockets_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/codec/msgpack"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

type job struct {
	ID   int    `json:"id" msgpack:"id"`
	Name string `json:"name" msgpack:"name"`
}

func TestTypedPushPullSurvivesBadPayload(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	pull, err := sockets.NewPullOf(codec.JSON[job]())
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push, err := sockets.NewPushOf(codec.JSON[job]())
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(addr))

	require.NoError(t, push.Send(ctx, job{ID: 1, Name: "a"}))
	require.NoError(t, push.Raw().Send(ctx, []byte("{garbage")))
	require.NoError(t, push.Send(ctx, job{ID: 2, Name: "b"}))

	v, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, job{1, "a"}, v)
	_, err = pull.Recv(ctx)
	require.ErrorIs(t, err, codec.ErrDecode)
	var de *codec.DecodeError
	require.True(t, errors.As(err, &de))
	assert.Equal(t, "json", de.Codec)
	assert.Equal(t, "sockets_test.job", de.Type)
	assert.Equal(t, 8, de.Size)
	v, err = pull.Recv(ctx)
	require.NoError(t, err, "the socket goes on after a decode failure")
	assert.Equal(t, job{2, "b"}, v)
	assert.Equal(t, uint64(1), pull.Stats().DecodeErrors)
}

func TestTypedIteratorAndChannel(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	pull, err := sockets.NewPullOf(msgpack.Codec[job]())
	require.NoError(t, err)
	defer pull.Close()
	_, err = pull.Listen("inproc://typed-iter")
	require.NoError(t, err)
	push, err := sockets.NewPushOf(msgpack.Codec[job]())
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial("inproc://typed-iter"))
	for i := 0; i < 10; i++ {
		require.NoError(t, push.Send(ctx, job{ID: i}))
	}
	n := 0
	for v, err := range pull.All(ctx) {
		require.NoError(t, err)
		assert.Equal(t, n, v.ID)
		n++
		if n == 5 {
			break
		}
	}
	ch := pull.Chan(ctx)
	for n < 10 {
		select {
		case r := <-ch:
			require.NoError(t, r.Err)
			assert.Equal(t, n, r.Value.ID)
			n++
		case <-ctx.Done():
			t.Fatal("timeout")
		}
	}
	require.NoError(t, pull.Close())
	for r := range ch { // closed once the socket is
		assert.ErrorIs(t, r.Err, sockets.ErrClosed)
	}
}

func TestTypedReqRepHandlerError(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	rep, err := sockets.NewRepOf(codec.JSON[job](), codec.String())
	require.NoError(t, err)
	defer rep.Close()
	addr, err := rep.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() {
		served <- rep.Serve(ctx, func(_ context.Context, j job) (string, error) {
			if j.ID < 0 {
				return "", fmt.Errorf("negative id %d", j.ID)
			}
			return strings.ToUpper(j.Name), nil
		})
	}()
	req, err := sockets.NewReqOf(codec.JSON[job](), codec.String())
	require.NoError(t, err)
	defer req.Close()
	require.NoError(t, req.Dial(addr))

	got, err := req.Call(ctx, job{ID: 1, Name: "hello"})
	require.NoError(t, err)
	assert.Equal(t, "HELLO", got)

	_, err = req.Call(ctx, job{ID: -1})
	require.ErrorIs(t, err, sockets.ErrRemote)
	assert.Contains(t, err.Error(), "negative id -1")

	// An undecodable request gets an error reply too, not a hang.
	require.NoError(t, req.Raw().Send(ctx, []byte("not json")))
	frames, err := req.Raw().Recv(ctx)
	require.NoError(t, err)
	require.Len(t, frames, 2)
	assert.Contains(t, string(frames[1]), "codec json")

	got, err = req.Call(ctx, job{Name: "again"})
	require.NoError(t, err)
	assert.Equal(t, "AGAIN", got)
	require.NoError(t, rep.Close())
	assert.ErrorIs(t, <-served, sockets.ErrClosed)
}

func TestTypedPubSubAndRouterDealer(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	pub, err := sockets.NewPubOf(codec.JSON[job]())
	require.NoError(t, err)
	defer pub.Close()
	addr, err := pub.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	sub, err := sockets.NewSubOf(codec.JSON[job](), sockets.WithSubscribe("jobs."))
	require.NoError(t, err)
	defer sub.Close()
	require.NoError(t, sub.Dial(addr))
	// Publish until the subscription has reached the publisher (slow joiner).
	var got sockets.Published[job]
	for i := 0; i < 500; i++ {
		require.NoError(t, pub.Publish(ctx, "other", job{ID: -1}))
		require.NoError(t, pub.Publish(ctx, "jobs.x", job{ID: i}))
		rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		got, err = sub.Recv(rctx)
		cancel()
		if err == nil {
			break
		}
	}
	require.NoError(t, err)
	assert.Equal(t, "jobs.x", got.Topic)
	assert.GreaterOrEqual(t, got.Value.ID, 0)

	router, err := sockets.NewRouterOf(codec.String())
	require.NoError(t, err)
	defer router.Close()
	raddr, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	dealer, err := sockets.NewDealerOf(codec.String(), sockets.WithRoutingID([]byte("d1")))
	require.NoError(t, err)
	defer dealer.Close()
	require.NoError(t, dealer.Dial(raddr))
	require.NoError(t, dealer.Send(ctx, "ping"))
	in, err := router.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, []byte("d1"), in.ID)
	assert.Equal(t, "ping", in.Value)
	require.NoError(t, router.Send(ctx, in.ID, "pong"))
	out, err := dealer.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "pong", out)
}
