package sockets_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// A ROUTER that dials two peers announcing the same routing id refuses the
// second connection (it is dropped and retried, reported as rejected),
// instead of keeping a peer whose messages it cannot route.
func TestRouterDialingDuplicateIDRefusesTheConnection(t *testing.T) {
	ctx := ctxT(t)
	var addrs []string
	var dealers []*sockets.Socket
	for i := 0; i < 2; i++ {
		d, err := sockets.NewDealer(sockets.WithRoutingID([]byte("same")), sockets.WithLinger(0))
		require.NoError(t, err)
		defer d.Close()
		addr, err := d.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		addrs, dealers = append(addrs, addr), append(dealers, d)
	}
	router, err := sockets.NewRouter(sockets.WithReconnect(50*time.Millisecond, 0), sockets.WithLinger(0))
	require.NoError(t, err)
	defer router.Close()
	require.NoError(t, router.Dial(addrs[0]))
	deadline := time.Now().Add(5 * time.Second)
	for router.Stats().Connects < 1 {
		require.True(t, time.Now().Before(deadline))
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, router.Dial(addrs[1]))
	for router.Stats().Rejected < 1 {
		require.True(t, time.Now().Before(deadline), "the duplicate was never refused")
		time.Sleep(time.Millisecond)
	}
	// The first peer still works both ways.
	require.NoError(t, dealers[0].Send(ctx, []byte("hello")))
	m, err := router.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("same"), []byte("hello")}, m)
	require.NoError(t, router.Send(ctx, []byte("same"), []byte("back")))
	r, err := dealers[0].Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("back")}, r)
	// Once the first one goes, the second gets the id on a later attempt.
	require.NoError(t, router.Disconnect(addrs[0]))
	for {
		require.True(t, time.Now().Before(deadline.Add(5*time.Second)), "the second peer never took over")
		require.NoError(t, router.Send(ctx, []byte("same"), []byte("probe")))
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		got, err := dealers[1].Recv(short)
		cancel()
		if err == nil {
			assert.Equal(t, "probe", string(got[len(got)-1]))
			break
		}
	}
}
