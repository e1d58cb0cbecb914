package sockets_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// Peers, PeerOf and PeerByRemote say what waits in each peer's queues:
// messages and bytes (payload plus 32 per frame), in and out.
func TestPeerQueueDepth(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	const n, size = 10, 100
	want := int64(n * (size + 32))

	// tcp: what a PULL has received and Recv has not taken.
	pull, err := sockets.NewPull()
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push, err := sockets.NewPush()
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(addr))
	for i := 0; i < n; i++ {
		require.NoError(t, push.Send(ctx, make([]byte, size)))
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		ps := pull.Peers()
		return len(ps) == 1 && ps[0].Queue.InMsgs == n
	}, "10 messages queued in")
	p := pull.Peers()[0]
	assert.Equal(t, sockets.PeerQueue{InMsgs: n, InBytes: want}, p.Queue)
	assert.Equal(t, addr, p.Endpoint)
	one, ok := pull.PeerByRemote(p.Remote)
	require.True(t, ok)
	assert.Equal(t, p.Queue, one.Queue)
	_, ok = pull.PeerByRemote("10.0.0.1:1")
	assert.False(t, ok)
	// Recv takes a batch from a single peer's queue at once; what it holds
	// ahead still counts as that peer's, not received.
	for i := 0; i < n; i++ {
		_, err := pull.Recv(ctx)
		require.NoError(t, err)
		left := n - 1 - i
		assert.Equal(t, sockets.PeerQueue{InMsgs: left, InBytes: int64(left * (size + 32))}, pull.Peers()[0].Queue, "after %d taken", i+1)
	}
	assert.Equal(t, sockets.PeerQueue{}, pull.Peers()[0].Queue, "taken: nothing queued")

	// inproc: what waits to go out of a ROUTER to one peer (the queues
	// are shared: it is that peer's In).
	router, err := sockets.NewRouter()
	require.NoError(t, err)
	defer router.Close()
	_, err = router.Listen("inproc://peerqueue")
	require.NoError(t, err)
	dealer, err := sockets.NewDealer(sockets.WithRoutingID([]byte("d")))
	require.NoError(t, err)
	defer dealer.Close()
	require.NoError(t, dealer.Dial("inproc://peerqueue"))
	testutil.Eventually(t, 5*time.Second, func() bool { _, ok := router.PeerOf([]byte("d")); return ok }, "dealer known")
	for i := 0; i < n; i++ {
		require.NoError(t, router.Send(ctx, []byte("d"), make([]byte, size)))
	}
	rp, ok := router.PeerOf([]byte("d"))
	require.True(t, ok)
	assert.Equal(t, n, rp.Queue.OutMsgs)
	assert.Equal(t, want, rp.Queue.OutBytes)
	dp := dealer.Peers()
	require.Len(t, dp, 1)
	assert.Equal(t, n, dp[0].Queue.InMsgs, "the dealer's In is the router's Out")
}
