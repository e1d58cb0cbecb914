package sockets_test

// Routing ids a ROUTER makes up for anonymous peers: a peer must not be
// able to guess them, claim them, keep anonymous peers out with them or,
// with WithRouterHandover, take an anonymous peer's messages with them.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// squatter is a raw peer that completes a NULL handshake as a DEALER
// announcing routing id id (any bytes, a zero first byte included, which
// our own WithRoutingID refuses), then keeps the connection open.
func squatter(t *testing.T, endpoint string, id []byte) *rbRaw {
	t.Helper()
	r := rbDial(t, endpoint)
	props := append(rbProp("Socket-Type", "DEALER"), rbProp("Identity", string(id))...)
	r.mustWrite(rbGreeting("NULL", false), rbCommand("READY", props))
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var g [64]byte
	_, err := io.ReadFull(r.c, g[:])
	require.NoError(t, err)
	_, body, err := r.readFrame()
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(body, []byte("\x05READY")), "want READY, got %q", body)
	_ = r.c.SetReadDeadline(time.Time{})
	return r
}

// libzmqStyleID is the n-th routing id of a ROUTER that numbers anonymous
// peers from 1: a zero byte, then n big-endian.
func libzmqStyleID(n uint32) []byte {
	b := make([]byte, 5)
	binary.BigEndian.PutUint32(b[1:], n)
	return b
}

// peerAt returns the ROUTER's view of the peer connected from remote
// (Peers lists a connection once its pipe runs, just after
// EventConnected).
func peerAt(t *testing.T, router *sockets.Socket, remote string) sockets.Peer {
	t.Helper()
	var found sockets.Peer
	semEventually(t, 5*time.Second, func() bool {
		for _, p := range router.Peers() {
			if p.Remote == remote {
				found = p
				return true
			}
		}
		return false
	}, "a peer from %s", remote)
	return found
}

// Peers that connect first announcing the ids the ROUTER would give next
// neither keep an anonymous peer out (before: each of its connections was
// refused as a duplicate until the counter passed them, 50 squatters = 50
// refusals) nor get those ids: an id starting with a zero byte is the
// ROUTER's to give, so they get generated ones like any anonymous peer.
func TestRouterSquattersCannotKeepAnonymousPeersOut(t *testing.T) {
	const squatters = 50
	ctx := rbCtx(t, 20*time.Second)
	router, routerLog := rbSocket(t, sockets.Router)
	addr, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	announced := map[string]bool{}
	var raws []*rbRaw
	for n := uint32(1); n <= squatters; n++ {
		id := libzmqStyleID(n)
		announced[string(id)] = true
		raws = append(raws, squatter(t, addr, id))
	}
	routerLog.awaitCount(t, 0, squatters, 10*time.Second, "squatters connected", rbKind(sockets.EventConnected))
	for _, r := range raws {
		p := peerAt(t, router, r.addr())
		assert.Len(t, p.Identity, 5, "what the squatter announced is still there to read")
		assert.False(t, announced[string(p.RoutingID)] && bytes.Equal(p.RoutingID, p.Identity),
			"squatter %s routed by the id it announced, %x", r.addr(), p.Identity)
	}

	victim, victimLog := rbSocket(t, sockets.Dealer)
	require.NoError(t, victim.Dial(addr))
	require.NoError(t, victim.Send(ctx, []byte("hello")))
	m := semRecv(t, ctx, router)
	require.Len(t, m, 2)
	assert.Equal(t, "hello", string(m[1]))
	id := m[0]
	require.Len(t, id, 5, "generated id %x", id)
	assert.Zero(t, id[0], "generated ids start with a zero byte")
	t.Logf("refused connections of the anonymous peer: %d; its id %x", router.Stats().Rejected, id)
	assert.Zero(t, router.Stats().Rejected, "the anonymous peer was refused as a duplicate")
	assert.Equal(t, 1, victimLog.count(rbKind(sockets.EventConnected)), "it got in on its first connection:%s", victimLog)

	require.NoError(t, router.Send(ctx, id, []byte("re hello")))
	assert.Equal(t, semF("re hello"), semRecv(t, ctx, victim))
	// None of the squatters took it.
	for _, r := range raws {
		assert.NotEqual(t, id, peerAt(t, router, r.addr()).RoutingID)
	}
}

// A peer that announces the very id an anonymous peer was given (it has
// learnt it somehow) does not take that peer's place, handover or not:
// handover is for ids peers chose, and it gets an id of its own.
func TestRouterGeneratedIDsAreNotHandedOver(t *testing.T) {
	for _, handover := range []bool{false, true} {
		t.Run(fmt.Sprintf("handover=%v", handover), func(t *testing.T) {
			ctx := rbCtx(t, 10*time.Second)
			router, routerLog := rbSocket(t, sockets.Router, sockets.WithRouterHandover(handover))
			addr, err := router.Listen("tcp://127.0.0.1:0")
			require.NoError(t, err)
			victim, victimLog := rbSocket(t, sockets.Dealer)
			require.NoError(t, victim.Dial(addr))
			require.NoError(t, victim.Send(ctx, []byte("request")))
			m := semRecv(t, ctx, router)
			require.Len(t, m, 2)
			id := m[0]

			mark := routerLog.mark()
			r := squatter(t, addr, id)
			routerLog.await(t, mark, 5*time.Second, "squatter connected", rbFrom(sockets.EventConnected, r.addr()))
			assert.NotEqual(t, id, peerAt(t, router, r.addr()).RoutingID, "the squatter got the anonymous peer's id")
			owner, ok := router.PeerOf(id)
			require.True(t, ok, "the anonymous peer lost its id")
			assert.NotEqual(t, r.addr(), owner.Remote)
			assert.Zero(t, router.Stats().Rejected)

			require.NoError(t, router.Send(ctx, id, []byte("reply")))
			assert.Equal(t, semF("reply"), semRecv(t, ctx, victim), "the reply went to its requester")
			assert.Zero(t, victimLog.count(rbEnded), "the anonymous peer was disconnected:%s", victimLog)
		})
	}
}

// A ROUTER does not hand the id it gave a peer it dialed (DialRouted) to
// an incoming peer that announces it, even with handover: that id is the
// application's, not a peer's.
func TestRouterDialRoutedIDIsNotHandedOver(t *testing.T) {
	ctx := rbCtx(t, 10*time.Second)
	server, _ := rbSocket(t, sockets.Dealer)
	ep, err := server.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	router, routerLog := rbSocket(t, sockets.Router, sockets.WithRouterHandover(true))
	addr, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, router.DialRouted(ep, []byte("backend")))
	require.NoError(t, router.Send(ctx, []byte("backend"), []byte("one")))
	assert.Equal(t, semF("one"), semRecv(t, ctx, server))

	mark := routerLog.mark()
	r := rbDial(t, addr)
	props := append(rbProp("Socket-Type", "DEALER"), rbProp("Identity", "backend")...)
	r.mustWrite(rbGreeting("NULL", false), rbCommand("READY", props))
	routerLog.await(t, mark, 5*time.Second, "impostor refused", rbFrom(sockets.EventRejected, r.addr()))
	r.expectDropped()

	require.NoError(t, router.Send(ctx, []byte("backend"), []byte("two")))
	assert.Equal(t, semF("two"), semRecv(t, ctx, server))
}

// Generated ids are not a count a peer could follow: two fresh ROUTERs
// do not give their first anonymous peer the same id, and one ROUTER's
// ids are not consecutive.
func TestRouterGeneratedIDsAreUnpredictable(t *testing.T) {
	ctx := rbCtx(t, 10*time.Second)
	first := func() []byte {
		router, _ := rbSocket(t, sockets.Router)
		addr, err := router.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		d, _ := rbSocket(t, sockets.Dealer)
		require.NoError(t, d.Dial(addr))
		require.NoError(t, d.Send(ctx, []byte("x")))
		return semRecv(t, ctx, router)[0]
	}
	a, b := first(), first()
	assert.NotEqual(t, a, b, "two ROUTERs named their first anonymous peer alike")

	router, _ := rbSocket(t, sockets.Router)
	addr, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	var ids []uint32
	for i := 0; i < 4; i++ {
		d, _ := rbSocket(t, sockets.Dealer)
		require.NoError(t, d.Dial(addr))
		require.NoError(t, d.Send(ctx, []byte("x")))
		id := semRecv(t, ctx, router)[0]
		require.Len(t, id, 5)
		ids = append(ids, binary.BigEndian.Uint32(id[1:]))
	}
	consecutive := true
	for i := 1; i < len(ids); i++ {
		consecutive = consecutive && ids[i] == ids[i-1]+1
	}
	assert.False(t, consecutive, "ids %v follow one another", ids)
}
