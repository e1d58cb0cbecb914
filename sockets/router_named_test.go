package sockets_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/sockets"
)

// A ROUTER that dials names its peer itself: it can send before the
// connection is up, the peer's own routing id does not matter, and the
// name holds through a reconnect.
func TestDialRoutedNamesThePeer(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 20*time.Second)
			ep := semDialEndpoint(t, tr)
			client := semNew(t, sockets.Router, sockets.WithRoutingID([]byte("client")),
				sockets.WithReconnect(10*time.Millisecond, 50*time.Millisecond))
			require.NoError(t, client.DialRouted(ep, []byte("server")))
			// Nobody is there yet: the message waits in the pipe.
			require.NoError(t, client.Send(ctx, []byte("server"), []byte("hello")))

			for round, body := range []string{"hello", "again"} {
				server, err := sockets.New(sockets.Router, sockets.WithRoutingID([]byte("announced")), sockets.WithLinger(0))
				require.NoError(t, err)
				_, err = server.Listen(ep)
				require.NoError(t, err)
				if round == 1 {
					require.NoError(t, client.Send(ctx, []byte("server"), []byte(body)))
				}
				assert.Equal(t, semF("client", body), semRecv(t, ctx, server))
				require.NoError(t, server.Send(ctx, []byte("client"), []byte("re "+body)))
				assert.Equal(t, semF("server", "re "+body), semRecv(t, ctx, client), "known by the name the dialer gave")
				p, ok := client.PeerOf([]byte("server"))
				require.True(t, ok)
				assert.Equal(t, "announced", string(p.Identity), "what the peer announced is still there to read")
				require.NoError(t, server.Close())
				semEventually(t, 5*time.Second, func() bool { return client.Stats().Disconnects == uint64(round+1) }, "server %d gone", round)
			}
		})
	}
}

func TestDialRoutedErrors(t *testing.T) {
	dealer := semNew(t, sockets.Dealer)
	assert.ErrorIs(t, dealer.DialRouted("tcp://127.0.0.1:1", []byte("x")), sockets.ErrNotSupported)

	r := semNew(t, sockets.Router)
	assert.ErrorIs(t, r.DialRouted("tcp://127.0.0.1:1", nil), sockets.ErrBadOption)
	require.NoError(t, r.DialRouted("tcp://127.0.0.1:1", []byte("a")))
	assert.ErrorIs(t, r.DialRouted("tcp://127.0.0.1:2", []byte("a")), sockets.ErrDuplicateID)
	assert.ErrorIs(t, r.DialRouted("tcp://127.0.0.1:1", []byte("b")), sockets.ErrBadEndpoint)
	require.NoError(t, r.Dial("tcp://127.0.0.1:3"))
	assert.ErrorIs(t, r.DialRouted("tcp://127.0.0.1:3", []byte("c")), sockets.ErrBadEndpoint)
	assert.ErrorIs(t, r.DialRouted("nope://x", []byte("d")), sockets.ErrBadEndpoint)
	// The name is free again after Disconnect, and after a failed Dial.
	require.NoError(t, r.Disconnect("tcp://127.0.0.1:1"))
	require.NoError(t, r.DialRouted("tcp://127.0.0.1:4", []byte("a")))
	require.NoError(t, r.DialRouted("tcp://127.0.0.1:5", []byte("d")))
}
