package sockets_test

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// admMech is a security mechanism as a server and a client use it, and
// the UserID the server's admission sees.
type admMech struct {
	name           string
	server, client []sockets.Option
	userID         string
}

func admMechs(t *testing.T) []admMech {
	srv, cli := curveKeys(t), curveKeys(t)
	return []admMech{
		{name: "NULL"},
		{name: "PLAIN", server: []sockets.Option{sockets.WithPlainServer(nil)},
			client: []sockets.Option{sockets.WithPlain("alice", "pw")}, userID: "alice"},
		{name: "CURVE", server: []sockets.Option{sockets.WithCurveServer(srv, nil)},
			client: []sockets.Option{sockets.WithCurve(srv.Public, cli)}, userID: sockets.CurveKey(cli.Public)},
	}
}

// admLog keeps what a socket logs.
type admLog struct{ testutil.LogRecorder }

// warnings is how many warn records carry an error matching target.
func (l *admLog) warnings(target error) int {
	n := 0
	for _, r := range l.Records() {
		r.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok && r.Level == slog.LevelWarn && errors.Is(err, target) {
				n++
			}
			return true
		})
	}
	return n
}

// A server vets each peer by address under every mechanism: a refused one
// gets no connection (its Dial sees a failed handshake matching ErrAuth:
// the server sent ZAP's 400), the refusal is counted, reported and logged
// on the server; an admitted one talks. The admission sees the peer's
// address, type and, as a PLAIN or CURVE server, who it authenticated.
func TestAdmissionByAddress(t *testing.T) {
	for _, m := range admMechs(t) {
		t.Run(m.name, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				list  func(...string) (func(sockets.Peer) error, error)
				addrs []string
				admit bool
			}{
				{"denied", sockets.DenyFrom, []string{"10.0.0.0/8", "127.0.0.1"}, false},
				{"not allowed", sockets.AllowFrom, []string{"192.0.2.0/24"}, false},
				{"allowed", sockets.AllowFrom, []string{"::1", "127.0.0.0/8"}, true},
				{"not denied", sockets.DenyFrom, []string{"192.0.2.1"}, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ctx := rbCtx(t, 10*time.Second)
					list, err := tc.list(tc.addrs...)
					require.NoError(t, err)
					var mu sync.Mutex
					var seen []sockets.Peer
					logs := &admLog{}
					pull, pullLog := rbSocket(t, sockets.Pull, append(m.server, sockets.WithLogger(slog.New(logs)),
						sockets.WithAdmission(func(p sockets.Peer) error {
							mu.Lock()
							seen = append(seen, p)
							mu.Unlock()
							return list(p)
						}))...)
					addr, err := pull.Listen("tcp://127.0.0.1:0")
					require.NoError(t, err)
					push, pushLog := rbSocket(t, sockets.Push, append(m.client, sockets.WithReconnect(time.Minute, 0),
						sockets.WithMetadata("X-Tenant", "blue"))...)
					require.NoError(t, push.Dial(addr))

					if tc.admit {
						require.NoError(t, push.Send(ctx, []byte("in")))
						assert.Equal(t, semF("in"), semRecv(t, ctx, pull))
						assert.Zero(t, pull.Stats().AuthFailures)
						assert.Zero(t, pull.Stats().HandshakeFailures)
					} else {
						cli := pushLog.await(t, 0, 5*time.Second, "client refused", rbKind(sockets.EventHandshakeFailed))
						assert.ErrorIs(t, cli.Err, sockets.ErrAuth, "the client learns it was refused: %v", cli.Err)
						srv := pullLog.await(t, 0, 5*time.Second, "server refused", rbKind(sockets.EventHandshakeFailed))
						assert.ErrorIs(t, srv.Err, sockets.ErrAuth)
						assert.ErrorIs(t, srv.Err, sockets.ErrRefused)
						t.Logf("server: %v", srv.Err)
						st := pull.Stats()
						assert.Equal(t, uint64(1), st.AuthFailures)
						assert.Equal(t, uint64(1), st.HandshakeFailures)
						assert.Zero(t, st.Connects)
						assert.Zero(t, pushLog.count(rbKind(sockets.EventConnected)), "events:%s", pushLog)
						assert.Equal(t, uint64(1), push.Stats().AuthFailures)
						assert.Equal(t, 1, logs.warnings(sockets.ErrRefused), "the refusal is logged")
					}
					mu.Lock()
					defer mu.Unlock()
					require.Len(t, seen, 1)
					p := seen[0]
					assert.Regexp(t, `^127\.0\.0\.1:\d+$`, p.Remote)
					assert.Equal(t, sockets.Push, p.Type)
					assert.Equal(t, "blue", p.Property("X-Tenant"))
					assert.Equal(t, m.userID, p.UserID)
				})
			}
		})
	}
}

// One server, two peers from the same address: admission by what the peer
// announced lets one in and keeps the other out.
func TestAdmissionByMetadata(t *testing.T) {
	for _, m := range admMechs(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := rbCtx(t, 10*time.Second)
			pull, pullLog := rbSocket(t, sockets.Pull, append(m.server, sockets.WithAdmission(func(p sockets.Peer) error {
				if p.Property("X-Tenant") != "blue" {
					return errors.New("tenant " + p.Property("X-Tenant") + " not served here")
				}
				return nil
			}))...)
			addr, err := pull.Listen("tcp://127.0.0.1:0")
			require.NoError(t, err)
			red, redLog := rbSocket(t, sockets.Push, append(m.client, sockets.WithMetadata("X-Tenant", "red"), sockets.WithReconnect(time.Minute, 0))...)
			require.NoError(t, red.Dial(addr))
			ev := redLog.await(t, 0, 5*time.Second, "red refused", rbKind(sockets.EventHandshakeFailed))
			assert.ErrorIs(t, ev.Err, sockets.ErrAuth)
			srv := pullLog.await(t, 0, 5*time.Second, "red refused", rbKind(sockets.EventHandshakeFailed))
			assert.Contains(t, srv.Err.Error(), "tenant red not served here")

			blue, _ := rbSocket(t, sockets.Push, append(m.client, sockets.WithMetadata("X-Tenant", "blue"))...)
			require.NoError(t, blue.Dial(addr))
			require.NoError(t, blue.Send(ctx, []byte("blue")))
			msg, from, err := pull.RecvFrom(ctx)
			require.NoError(t, err)
			assert.Equal(t, semF("blue"), msg)
			assert.Equal(t, "blue", from.Property("X-Tenant"))
			assert.Equal(t, m.userID, from.UserID)
			assert.Equal(t, uint64(1), pull.Stats().Connects)
			assert.Equal(t, uint64(1), pull.Stats().AuthFailures)
		})
	}
}

// The side that dials may vet the peer it reached too; it then drops the
// connection after the handshake (it has no READY left to refuse with).
func TestAdmissionOnTheDialingSide(t *testing.T) {
	for _, m := range admMechs(t) {
		t.Run(m.name, func(t *testing.T) {
			pull, pullLog := rbSocket(t, sockets.Pull, m.server...)
			addr, err := pull.Listen("tcp://127.0.0.1:0")
			require.NoError(t, err)
			var asked sockets.Peer
			push, pushLog := rbSocket(t, sockets.Push, append(m.client, sockets.WithReconnect(time.Minute, 0),
				sockets.WithAdmission(func(p sockets.Peer) error { asked = p; return errors.New("not this server") }))...)
			require.NoError(t, push.Dial(addr))
			ev := pushLog.await(t, 0, 5*time.Second, "refused", rbKind(sockets.EventHandshakeFailed))
			assert.ErrorIs(t, ev.Err, sockets.ErrRefused)
			assert.Equal(t, uint64(1), push.Stats().AuthFailures)
			assert.Zero(t, push.Stats().Connects)
			assert.Equal(t, sockets.Pull, asked.Type)
			assert.Empty(t, asked.UserID, "a client authenticates nobody")
			// The listener never keeps the connection.
			pullLog.await(t, 0, 5*time.Second, "connection gone", func(e sockets.Event) bool {
				return e.Kind == sockets.EventHandshakeFailed || e.Kind == sockets.EventDisconnected
			})
			semEventually(t, 5*time.Second, func() bool { return len(pull.Peers()) == 0 }, "no peer left on the listener")
		})
	}
}

// inproc has no handshake, so nothing to vet; AllowFrom and DenyFrom
// refuse entries that are not addresses.
func TestAdmissionEdges(t *testing.T) {
	ctx := rbCtx(t, 5*time.Second)
	pull := semNew(t, sockets.Pull, sockets.WithAdmission(func(sockets.Peer) error { return errors.New("nobody") }))
	addr := semListen(t, pull, "inproc")
	push := semNew(t, sockets.Push)
	require.NoError(t, push.Dial(addr))
	require.NoError(t, push.Send(ctx, []byte("inproc")))
	assert.Equal(t, semF("inproc"), semRecv(t, ctx, pull))

	_, err := sockets.AllowFrom("localhost")
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	_, err = sockets.DenyFrom("10.0.0.0/33")
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	allow, err := sockets.AllowFrom("10.0.0.0/8")
	require.NoError(t, err)
	assert.Error(t, allow(sockets.Peer{Remote: "@"}), "an ipc peer has no address to allow")
	assert.NoError(t, allow(sockets.Peer{Remote: "[::ffff:10.1.2.3]:5"}), "IPv4 mapped into IPv6")
	deny, err := sockets.DenyFrom("10.0.0.0/8")
	require.NoError(t, err)
	assert.NoError(t, deny(sockets.Peer{Remote: "@"}))
	assert.Error(t, deny(sockets.Peer{Remote: "10.9.9.9:1"}))
}

// The auth callbacks see the peer too: a PLAIN user admitted only with the
// metadata it should carry, a CURVE key only from loopback.
func TestAuthCallbacksSeeThePeer(t *testing.T) {
	ctx := rbCtx(t, 10*time.Second)
	var mu sync.Mutex
	var plainSeen []sockets.Peer
	pull, _ := rbSocket(t, sockets.Pull, sockets.WithPlainServerAuth(func(p sockets.Peer, user, pass string) bool {
		mu.Lock()
		plainSeen = append(plainSeen, p)
		mu.Unlock()
		return user == "alice" && pass == "pw" && p.Property("X-Site") == "lab"
	}))
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	wrongSite, wrongLog := rbSocket(t, sockets.Push, sockets.WithPlain("alice", "pw"), sockets.WithMetadata("X-Site", "cafe"),
		sockets.WithReconnect(time.Minute, 0))
	require.NoError(t, wrongSite.Dial(addr))
	ev := wrongLog.await(t, 0, 5*time.Second, "refused", rbKind(sockets.EventHandshakeFailed))
	assert.ErrorIs(t, ev.Err, sockets.ErrAuth, "refused after INITIATE, still as credentials: %v", ev.Err)
	lab, _ := rbSocket(t, sockets.Push, sockets.WithPlain("alice", "pw"), sockets.WithMetadata("X-Site", "lab"))
	require.NoError(t, lab.Dial(addr))
	require.NoError(t, lab.Send(ctx, []byte("from the lab")))
	m, from, err := pull.RecvFrom(ctx)
	require.NoError(t, err)
	assert.Equal(t, semF("from the lab"), m)
	assert.Equal(t, "alice", from.UserID)
	mu.Lock()
	require.Len(t, plainSeen, 2)
	for _, p := range plainSeen {
		assert.Regexp(t, `^127\.0\.0\.1:\d+$`, p.Remote)
		assert.Equal(t, sockets.Push, p.Type)
		assert.Empty(t, p.UserID)
	}
	mu.Unlock()

	srv, cli, other := curveKeys(t), curveKeys(t), curveKeys(t)
	router, routerLog := rbSocket(t, sockets.Router, sockets.WithCurveServerAuth(srv, func(p sockets.Peer, k [32]byte) bool {
		return k == cli.Public && bytes.Equal(p.Identity, []byte("me"))
	}))
	raddr, err := router.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	bad, badLog := rbSocket(t, sockets.Dealer, sockets.WithCurve(srv.Public, other), sockets.WithRoutingID([]byte("me")),
		sockets.WithReconnect(time.Minute, 0))
	require.NoError(t, bad.Dial(raddr))
	ev = badLog.await(t, 0, 5*time.Second, "refused", rbKind(sockets.EventHandshakeFailed))
	assert.ErrorIs(t, ev.Err, sockets.ErrAuth)
	srvEv := routerLog.await(t, 0, 5*time.Second, "refused", rbKind(sockets.EventHandshakeFailed))
	assert.ErrorIs(t, srvEv.Err, sockets.ErrAuth)
	assert.NotErrorIs(t, srvEv.Err, sockets.ErrRefused, "a key refused is not an admission refusal")
	good, _ := rbSocket(t, sockets.Dealer, sockets.WithCurve(srv.Public, cli), sockets.WithRoutingID([]byte("me")))
	require.NoError(t, good.Dial(raddr))
	require.NoError(t, good.Send(ctx, []byte("hi")))
	assert.Equal(t, semF("me", "hi"), semRecv(t, ctx, router))
	assert.Equal(t, uint64(1), router.Stats().AuthFailures)
}
