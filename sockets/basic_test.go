package sockets_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPushPullTransports(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/s", "inproc://pp"} {
		t.Run(ep[:3], func(t *testing.T) {
			ctx := ctxT(t)
			pull, err := sockets.NewPull()
			require.NoError(t, err)
			defer pull.Close()
			addr, err := pull.Listen(ep)
			require.NoError(t, err)
			push, err := sockets.NewPush()
			require.NoError(t, err)
			defer push.Close()
			require.NoError(t, push.Dial(addr))
			for i := 0; i < 100; i++ {
				require.NoError(t, push.Send(ctx, []byte(fmt.Sprint(i)), []byte("x")))
			}
			for i := 0; i < 100; i++ {
				m, err := pull.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, [][]byte{[]byte(fmt.Sprint(i)), []byte("x")}, m)
			}
		})
	}
}

func TestReqRep(t *testing.T) {
	ctx := ctxT(t)
	rep, _ := sockets.NewRep()
	defer rep.Close()
	addr, err := rep.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	req, _ := sockets.NewReq()
	defer req.Close()
	require.NoError(t, req.Dial(addr))
	go func() {
		for {
			m, err := rep.Recv(ctx)
			if err != nil {
				return
			}
			_ = rep.Send(ctx, append([][]byte{[]byte("re")}, m...)...)
		}
	}()
	for i := 0; i < 10; i++ {
		require.NoError(t, req.Send(ctx, []byte("hi"), []byte{}, []byte("x")))
		m, err := req.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, [][]byte{[]byte("re"), []byte("hi"), {}, []byte("x")}, m)
	}
	assert.ErrorIs(t, req.Send(ctx, []byte("a")), nil)
	assert.ErrorIs(t, req.Send(ctx, []byte("a")), sockets.ErrState)
}
