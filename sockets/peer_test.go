package sockets_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// A PLAIN server learns from RecvFrom which user sent each message, and
// where from; the peer's own metadata reads through Property.
func TestRecvFromNamesThePlainUser(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	pull := semNew(t, sockets.Pull, sockets.WithPlainServer(func(user, pass string) bool { return pass == "pw-"+user }))
	addr := semListen(t, pull, "tcp")
	senders := map[string]*sockets.Socket{}
	for _, user := range []string{"alice", "bob"} {
		push := semNew(t, sockets.Push, sockets.WithPlain(user, "pw-"+user), sockets.WithRoutingID([]byte("id-"+user)))
		require.NoError(t, push.Dial(addr))
		senders[user] = push
	}
	for user, push := range senders {
		require.NoError(t, push.Send(ctx, []byte("from "+user)))
	}
	for range senders {
		m, from, err := pull.RecvFrom(ctx)
		require.NoError(t, err)
		require.Len(t, m, 1)
		user := string(m[0][len("from "):])
		assert.Equal(t, user, from.UserID)
		assert.Equal(t, user, from.Property("user-id"), "Property is case-blind and User-Id is UserID")
		assert.Equal(t, sockets.Push, from.Type)
		assert.Equal(t, "PUSH", from.Property("socket-type"))
		assert.Equal(t, "id-"+user, string(from.Identity))
		assert.Regexp(t, `^127\.0\.0\.1:\d+$`, from.Remote)
		assert.Empty(t, from.Property("X-Nothing"))
	}
}

// A CURVE ROUTER knows each client by its public key: from RecvFrom, and
// from PeerOf for as long as the client is connected. The client side
// authenticated nobody.
func TestRecvFromAndPeerOfNameTheCurveClient(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	srv, cli := curveKeys(t), curveKeys(t)
	router := semNew(t, sockets.Router, sockets.WithCurveServer(srv, nil))
	addr := semListen(t, router, "tcp")
	dealer := semNew(t, sockets.Dealer, sockets.WithCurve(srv.Public, cli))
	require.NoError(t, dealer.Dial(addr))
	require.NoError(t, dealer.Send(ctx, []byte("hi")))

	m, from, err := router.RecvFrom(ctx)
	require.NoError(t, err)
	require.Len(t, m, 2)
	assert.Equal(t, sockets.CurveKey(cli.Public), from.UserID)
	assert.Equal(t, sockets.Dealer, from.Type)
	byID, ok := router.PeerOf(m[0])
	require.True(t, ok)
	assert.Equal(t, from.UserID, byID.UserID)
	assert.Equal(t, from.Remote, byID.Remote)

	require.NoError(t, router.Send(ctx, m[0], []byte("hello")))
	_, back, err := dealer.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Empty(t, back.UserID, "the client checked no credentials")
	assert.Equal(t, sockets.Router, back.Type)

	_, ok = router.PeerOf([]byte("nobody"))
	assert.False(t, ok)
	_, ok = dealer.PeerOf(m[0])
	assert.False(t, ok, "only a ROUTER has routing ids")
	require.NoError(t, dealer.Close())
	semEventually(t, 5*time.Second, func() bool { _, ok := router.PeerOf(m[0]); return !ok }, "PeerOf forgets a departed client")
}

// Under NULL a peer may announce any metadata, but "User-Id" is not its to
// claim: UserID stays empty.
func TestRecvFromIgnoresAClaimedUserID(t *testing.T) {
	pull, _ := rbSocket(t, sockets.Pull)
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	r := rbDial(t, addr)
	ready := rbCommand("READY", append(append(rbProp("Socket-Type", "PUSH"), rbProp("User-Id", "admin")...), rbProp("X-App", "v1")...))
	require.NoError(t, r.write(rbGreeting("NULL", false), ready, rbFrame(0, []byte("job"))))
	m, from, err := pull.RecvFrom(rbCtx(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("job")}, m)
	assert.Empty(t, from.UserID)
	assert.Empty(t, from.Property("User-Id"))
	assert.Equal(t, "v1", from.Property("x-app"), "application metadata reads through")
	assert.Equal(t, r.addr(), from.Remote)
}

// A dialing pipe outlives its connection: what the first peer sent and
// nobody has read yet is still that peer's after the Dial has reconnected
// to another one.
func TestRecvFromKeepsTheSenderAcrossReconnects(t *testing.T) {
	ctx := semCtx(t, 20*time.Second)
	srv := curveKeys(t)
	dir, err := os.MkdirTemp("", "zkpeer")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ep := "ipc://" + filepath.Join(dir, "s")

	// The CURVE server dials; its clients bind, one after the other.
	pull := semNew(t, sockets.Pull, sockets.WithCurveServer(srv, nil), sockets.WithReconnect(10*time.Millisecond, 50*time.Millisecond))
	require.NoError(t, pull.Dial(ep))
	var keys []string
	for i := 0; i < 2; i++ {
		cli := curveKeys(t)
		keys = append(keys, sockets.CurveKey(cli.Public))
		push, err := sockets.NewPush(sockets.WithCurve(srv.Public, cli), sockets.WithLinger(5*time.Second))
		require.NoError(t, err)
		_, err = push.Listen(ep)
		require.NoError(t, err)
		for j := 0; j < 3; j++ {
			require.NoError(t, push.Send(ctx, []byte(fmt.Sprintf("%d.%d", i, j))))
		}
		// The messages are in pull's pipe before the first client goes.
		semEventually(t, 5*time.Second, func() bool { return pull.Stats().Connects == uint64(i+1) }, "client %d connected", i)
		require.NoError(t, push.Close())
		semEventually(t, 5*time.Second, func() bool { return pull.Stats().Disconnects == uint64(i+1) }, "client %d gone", i)
	}
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			m, from, err := pull.RecvFrom(ctx)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("%d.%d", i, j), string(m[0]))
			assert.Equal(t, keys[i], from.UserID, "message %d.%d", i, j)
		}
	}
}

// Over inproc there is no connection: the peer is the socket at the other
// end, with no address and no credentials.
func TestRecvFromOverInproc(t *testing.T) {
	ctx := semCtx(t, 5*time.Second)
	pull := semNew(t, sockets.Pull)
	addr := semListen(t, pull, "inproc")
	push := semNew(t, sockets.Push, sockets.WithRoutingID([]byte("me")))
	require.NoError(t, push.Dial(addr))
	require.NoError(t, push.Send(ctx, []byte("x")))
	_, from, err := pull.RecvMsgFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, sockets.Push, from.Type)
	assert.Equal(t, "me", string(from.Identity))
	assert.Empty(t, from.Remote)
	assert.Empty(t, from.UserID)
}

// A message a device takes in and passes on does not carry its first
// sender's name into the next socket's pipe: the next receiver sees the
// device.
func TestForwardedMessageNamesTheForwarder(t *testing.T) {
	ctx := semCtx(t, 5*time.Second)
	in := semNew(t, sockets.Pull, sockets.WithPlainServer(nil))
	inAddr := semListen(t, in, "tcp")
	out := semNew(t, sockets.Pull)
	outAddr := semListen(t, out, "inproc")
	fwd := semNew(t, sockets.Push, sockets.WithRoutingID([]byte("fwd")))
	require.NoError(t, fwd.Dial(outAddr))
	src := semNew(t, sockets.Push, sockets.WithPlain("carol", ""))
	require.NoError(t, src.Dial(inAddr))
	require.NoError(t, src.Send(ctx, []byte("m")))
	m, first, err := in.RecvMsgFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, "carol", first.UserID)
	require.NoError(t, fwd.SendMsg(ctx, m))
	_, next, err := out.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Empty(t, next.UserID)
	assert.Equal(t, "fwd", string(next.Identity))
}

// Connected and disconnected events name the authenticated user.
func TestEventsNameTheUser(t *testing.T) {
	pull := semNew(t, sockets.Pull, sockets.WithPlainServer(nil))
	addr := semListen(t, pull, "tcp")
	push, err := sockets.NewPush(sockets.WithPlain("dave", "x"))
	require.NoError(t, err)
	require.NoError(t, push.Dial(addr))
	assert.Equal(t, "dave", awaitEvent(t, pull, sockets.EventConnected).UserID)
	require.NoError(t, push.Close())
	assert.Equal(t, "dave", awaitEvent(t, pull, sockets.EventDisconnected).UserID)
}

// A RepOf handler's context names the caller.
func TestRepOfHandlerKnowsTheCaller(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	rep, err := sockets.NewRepOf(codec.String(), codec.String(), sockets.WithPlainServer(nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rep.Close() })
	addr, err := rep.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- rep.Serve(sctx, func(ctx context.Context, q string) (string, error) {
			p, ok := sockets.PeerFromContext(ctx)
			if !ok {
				return "", errors.New("no peer in the context")
			}
			return q + " " + p.UserID, nil
		})
	}()
	defer func() { stop(); <-done }()
	req, err := sockets.NewReqOf(codec.String(), codec.String(), sockets.WithPlain("erin", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = req.Close() })
	require.NoError(t, req.Dial(addr))
	got, err := req.Call(ctx, "hello")
	require.NoError(t, err)
	assert.Equal(t, "hello erin", got)
}

// Application metadata travels in the handshake, under every mechanism,
// and reads back through Property whatever the case of the name.
func TestMetadataReachesThePeer(t *testing.T) {
	srv, cli := curveKeys(t), curveKeys(t)
	for _, sec := range []struct {
		name     string
		pul, pus []sockets.Option
	}{
		{"null", nil, nil},
		{"plain", []sockets.Option{sockets.WithPlainServer(nil)}, []sockets.Option{sockets.WithPlain("u", "p")}},
		{"curve", []sockets.Option{sockets.WithCurveServer(srv, nil)}, []sockets.Option{sockets.WithCurve(srv.Public, cli)}},
	} {
		t.Run(sec.name, func(t *testing.T) {
			ctx := semCtx(t, 5*time.Second)
			pull := semNew(t, sockets.Pull, append(sec.pul, sockets.WithMetadata("X-Role", "sink"))...)
			addr := semListen(t, pull, "tcp")
			push := semNew(t, sockets.Push, append(sec.pus, sockets.WithMetadata("X-Service", "old"),
				sockets.WithMetadata("x-service", "billing"), sockets.WithMetadata("X-Region", "eu-1"))...)
			require.NoError(t, push.Dial(addr))
			require.NoError(t, push.Send(ctx, []byte("m")))
			_, from, err := pull.RecvFrom(ctx)
			require.NoError(t, err)
			assert.Equal(t, "billing", from.Property("X-Service"), "the later value of a name wins")
			assert.Equal(t, "eu-1", from.Property("x-region"))
			assert.Equal(t, "PUSH", from.Property("Socket-Type"), "the system properties are still there")
		})
	}
}

func TestMetadataOptionErrors(t *testing.T) {
	for _, tc := range []struct{ name, value, why string }{
		{"Service", "x", "want X-"},
		{"X-", "x", "want X-"},
		{"X-a b", "x", "is not a letter"},
		{"X-Socket-Type", "x", "reserved"},
		{"x-identity", "x", "reserved"},
		{"X-" + strings.Repeat("n", 254), "x", "255 characters"},
		{"X-Big", strings.Repeat("v", 40<<10), "32768 bytes"},
	} {
		_, err := sockets.New(sockets.Push, sockets.WithMetadata(tc.name, tc.value))
		require.Error(t, err, tc.name)
		assert.ErrorIs(t, err, sockets.ErrBadOption)
		assert.Contains(t, err.Error(), tc.why)
	}
}

// A publisher can refuse subscriptions by who asks: each PLAIN user may
// subscribe to its own prefix only.
func TestSubscriptionFilterByUser(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	var asked []string
	var mu sync.Mutex
	pub := semNew(t, sockets.XPub, sockets.WithPlainServer(nil),
		sockets.WithSubscriptionFilter(func(p sockets.Peer, topic []byte) bool {
			mu.Lock()
			asked = append(asked, p.UserID+":"+string(topic))
			mu.Unlock()
			return strings.HasPrefix(string(topic), p.UserID+".")
		}))
	addr := semListen(t, pub, "tcp")
	alice := semNew(t, sockets.Sub, sockets.WithPlain("alice", ""), sockets.WithSubscribe("alice."), sockets.WithSubscribe("bob."))
	require.NoError(t, alice.Dial(addr))
	semEventually(t, 5*time.Second, func() bool { return pub.Stats().SubscriptionsRefused == 1 }, "alice's bob. refused")
	m, from, err := pub.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, semF("\x01alice."), m, "the XPUB sees only what it allowed")
	assert.Equal(t, "alice", from.UserID)

	bob := semNew(t, sockets.Sub, sockets.WithPlain("bob", ""), sockets.WithSubscribe("bob."))
	require.NoError(t, bob.Dial(addr))
	m, from, err = pub.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, semF("\x01bob."), m, "bob's is the first bob. subscription that counts")
	assert.Equal(t, "bob", from.UserID)

	require.NoError(t, pub.Send(ctx, []byte("bob.1")))
	require.NoError(t, pub.Send(ctx, []byte("alice.1")))
	assert.Equal(t, semF("alice.1"), semRecv(t, ctx, alice), "bob.1 never went to alice")
	assert.Equal(t, semF("bob.1"), semRecv(t, ctx, bob))
	mu.Lock()
	assert.ElementsMatch(t, []string{"alice:alice.", "alice:bob.", "bob:bob."}, asked)
	mu.Unlock()

	_, err = sockets.New(sockets.Sub, sockets.WithSubscriptionFilter(nil))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}

// Peers lists who is connected now: a ROUTER with its routing ids, a
// dialing socket only while its connection is up.
func TestPeersListsTheConnected(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			// inproc has no handshake, so no security: no user ids there.
			router := semNew(t, sockets.Router, sockets.WithPlainServer(nil))
			addr := semListen(t, router, tr)
			dealers := map[string]*sockets.Socket{}
			for _, id := range []string{"a", "b"} {
				d, err := sockets.New(sockets.Dealer, sockets.WithRoutingID([]byte(id)), sockets.WithPlain("user-"+id, ""), sockets.WithLinger(0))
				require.NoError(t, err)
				require.NoError(t, d.Dial(addr))
				dealers[id] = d
			}
			byID := func() map[string]string {
				m := map[string]string{}
				for _, p := range router.Peers() {
					m[string(p.RoutingID)] = p.UserID
				}
				return m
			}
			want := map[string]string{"a": "user-a", "b": "user-b"}
			if tr == "inproc" {
				want = map[string]string{"a": "", "b": ""}
			}
			semEventually(t, 5*time.Second, func() bool { return len(byID()) == 2 }, "both connected: %v", byID())
			assert.Equal(t, want, byID())
			require.NoError(t, dealers["a"].Close())
			semEventually(t, 5*time.Second, func() bool { return len(byID()) == 1 }, "a gone: %v", byID())
			assert.Contains(t, byID(), "b")
			require.NoError(t, dealers["b"].Close())
		})
	}

	// A Dial pipe with nobody there is not a peer.
	d := semNew(t, sockets.Dealer)
	require.NoError(t, d.Dial(semFreeTCP(t)))
	assert.Empty(t, d.Peers())
}

// The typed sockets say who sent a value too.
func TestTypedRecvFrom(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	pull, err := sockets.NewPullOf(codec.String(), sockets.WithPlainServer(nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = pull.Close() })
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push, err := sockets.NewPushOf(codec.String(), sockets.WithPlain("fay", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = push.Close() })
	require.NoError(t, push.Dial(addr))
	require.NoError(t, push.Send(ctx, "v"))
	v, from, err := pull.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	assert.Equal(t, "fay", from.UserID)

	router, err := sockets.NewRouterOf(codec.String(), sockets.WithPlainServer(nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = router.Close() })
	raddr, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	dealer, err := sockets.NewDealerOf(codec.String(), sockets.WithPlain("gus", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = dealer.Close() })
	require.NoError(t, dealer.Dial(raddr))
	require.NoError(t, dealer.Send(ctx, "q"))
	r, rfrom, err := router.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, "q", r.Value)
	assert.Equal(t, "gus", rfrom.UserID)
	require.NoError(t, router.Send(ctx, r.ID, "a"))
	a, dfrom, err := dealer.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, "a", a)
	assert.Equal(t, sockets.Router, dfrom.Type)

	pub, err := sockets.NewPubOf(codec.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = pub.Close() })
	paddr, err := pub.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	sub, err := sockets.NewSubOf(codec.String(), sockets.WithSubscribe("t"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	require.NoError(t, sub.Dial(paddr))
	for {
		require.NoError(t, pub.Publish(ctx, "t", "news"))
		sctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		p, pfrom, err := sub.RecvFrom(sctx)
		cancel()
		if err == nil {
			assert.Equal(t, "news", p.Value)
			assert.Equal(t, sockets.Pub, pfrom.Type)
			break
		}
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
}
