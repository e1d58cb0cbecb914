package sockets_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// DisconnectPeer drops one peer of a ROUTER: its connection ends at once
// (both sides report it, ours with ErrPeerDisconnected), its id is
// unroutable from then on, and the other peers go on as before.
func TestDisconnectPeer(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := rbCtx(t, 10*time.Second)
			router, routerLog := rbSocket(t, sockets.Router, sockets.WithRouterMandatory(true))
			addr := semListen(t, router, tr)
			dealers := map[string]*sockets.Socket{}
			logs := map[string]*rbLog{}
			for _, id := range []string{"a", "b"} {
				// a must not come back during the test.
				dealers[id], logs[id] = rbSocket(t, sockets.Dealer, sockets.WithRoutingID([]byte(id)), sockets.WithReconnect(time.Minute, 0))
				require.NoError(t, dealers[id].Dial(addr))
				logs[id].await(t, 0, 5*time.Second, "connected", rbKind(sockets.EventConnected))
			}
			routerLog.awaitCount(t, 0, 2, 5*time.Second, "connected", rbKind(sockets.EventConnected))
			for id, d := range dealers {
				require.NoError(t, router.Send(ctx, []byte(id), []byte("hi "+id)))
				assert.Equal(t, semF("hi "+id), semRecv(t, ctx, d))
			}

			mark := routerLog.mark()
			require.NoError(t, router.DisconnectPeer([]byte("a")))
			ev := routerLog.await(t, mark, 5*time.Second, "disconnected", rbKind(sockets.EventDisconnected))
			assert.ErrorIs(t, ev.Err, sockets.ErrPeerDisconnected)
			logs["a"].await(t, 0, 5*time.Second, "a disconnected", rbKind(sockets.EventDisconnected))
			assert.ErrorIs(t, router.Send(ctx, []byte("a"), []byte("gone")), sockets.ErrHostUnreachable)
			_, ok := router.PeerOf([]byte("a"))
			assert.False(t, ok)
			assert.ErrorIs(t, router.DisconnectPeer([]byte("a")), sockets.ErrHostUnreachable, "a second time")

			require.NoError(t, router.Send(ctx, []byte("b"), []byte("still here")))
			assert.Equal(t, semF("still here"), semRecv(t, ctx, dealers["b"]))
			require.NoError(t, dealers["b"].Send(ctx, []byte("me too")))
			assert.Equal(t, semF("b", "me too"), semRecv(t, ctx, router))
			assert.Zero(t, logs["b"].count(rbEnded), "b lost its connection:%s", logs["b"])
			assert.Equal(t, 1, routerLog.count(rbKind(sockets.EventDisconnected)), "events:%s", routerLog)
		})
	}
}

func TestDisconnectPeerErrors(t *testing.T) {
	router := semNew(t, sockets.Router)
	assert.ErrorIs(t, router.DisconnectPeer([]byte("nobody")), sockets.ErrHostUnreachable)
	// A peer it dials, not connected yet: nothing to drop.
	require.NoError(t, router.DialRouted(semFreeTCP(t), []byte("later")))
	assert.ErrorIs(t, router.DisconnectPeer([]byte("later")), sockets.ErrHostUnreachable)
	dealer := semNew(t, sockets.Dealer)
	assert.ErrorIs(t, dealer.DisconnectPeer([]byte("x")), sockets.ErrNotSupported)
	assert.Zero(t, dealer.DisconnectPeers(func(sockets.Peer) bool { return true }), "no peers")
}

// DisconnectPeers drops by predicate on any socket type; here a PULL drops
// the PLAIN user it no longer wants and keeps the other.
func TestDisconnectPeersByUser(t *testing.T) {
	ctx := rbCtx(t, 10*time.Second)
	pull, pullLog := rbSocket(t, sockets.Pull, sockets.WithPlainServer(nil))
	addr := semListen(t, pull, "tcp")
	pushes := map[string]*sockets.Socket{}
	logs := map[string]*rbLog{}
	for _, user := range []string{"alice", "mallory"} {
		pushes[user], logs[user] = rbSocket(t, sockets.Push, sockets.WithPlain(user, ""), sockets.WithReconnect(time.Minute, 0))
		require.NoError(t, pushes[user].Dial(addr))
		logs[user].await(t, 0, 5*time.Second, "connected", rbKind(sockets.EventConnected))
	}
	pullLog.awaitCount(t, 0, 2, 5*time.Second, "connected", rbKind(sockets.EventConnected))

	var seen []string
	n := pull.DisconnectPeers(func(p sockets.Peer) bool {
		seen = append(seen, p.UserID)
		return p.UserID == "mallory"
	})
	assert.Equal(t, 1, n)
	assert.ElementsMatch(t, []string{"alice", "mallory"}, seen)
	ev := pullLog.await(t, 0, 5*time.Second, "disconnected", rbKind(sockets.EventDisconnected))
	assert.Equal(t, "mallory", ev.UserID)
	assert.ErrorIs(t, ev.Err, sockets.ErrPeerDisconnected)
	logs["mallory"].await(t, 0, 5*time.Second, "mallory disconnected", rbKind(sockets.EventDisconnected))

	require.NoError(t, pushes["alice"].Send(ctx, []byte("from alice")))
	m, from, err := pull.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, semF("from alice"), m)
	assert.Equal(t, "alice", from.UserID)
	assert.Zero(t, logs["alice"].count(rbEnded))
	peers := pull.Peers()
	require.Len(t, peers, 1)
	assert.Equal(t, "alice", peers[0].UserID)
	assert.Equal(t, uint64(1), pull.Stats().Disconnects)
}

// A peer that stops reading leaves its connection's writer stuck in Write
// behind full TCP buffers (here on a message far larger than they are);
// DisconnectPeer still ends that connection at once, without the peer's
// help. (Ending the pipe alone would leave the writer stuck until the
// peer read again.)
func TestDisconnectPeerThatDoesNotRead(t *testing.T) {
	ctx := rbCtx(t, 10*time.Second)
	router, routerLog := rbSocket(t, sockets.Router)
	addr, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	r := rbDial(t, addr)
	require.NoError(t, r.c.(*net.TCPConn).SetReadBuffer(16<<10))
	props := append(rbProp("Socket-Type", "DEALER"), rbProp("Identity", "stuck")...)
	r.mustWrite(rbGreeting("NULL", false), rbCommand("READY", props))
	routerLog.await(t, 0, 5*time.Second, "connected", rbFrom(sockets.EventConnected, r.addr()))
	_, ok := router.PeerOf([]byte("stuck"))
	require.True(t, ok)
	require.NoError(t, router.Send(ctx, []byte("stuck"), make([]byte, 32<<20)))

	mark := routerLog.mark()
	require.NoError(t, router.DisconnectPeer([]byte("stuck")))
	ev := routerLog.await(t, mark, 5*time.Second, "disconnected", rbFrom(sockets.EventDisconnected, r.addr()))
	assert.ErrorIs(t, ev.Err, sockets.ErrPeerDisconnected)
	assert.Zero(t, router.Stats().Peers)
}
