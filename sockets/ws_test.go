package sockets_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// wsPair makes a PULL listening on endpoint and a PUSH dialing it, with
// the options given to each.
func pushPull(t *testing.T, endpoint string, pullOpts, pushOpts []sockets.Option) (push, pull *sockets.Socket) {
	t.Helper()
	pull, err := sockets.NewPull(pullOpts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pull.Close() })
	addr, err := pull.Listen(endpoint)
	require.NoError(t, err)
	push, err = sockets.NewPush(pushOpts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = push.Close() })
	require.NoError(t, push.Dial(addr))
	return push, pull
}

func sendRecvN(t *testing.T, ctx context.Context, push, pull *sockets.Socket, n int, sizes ...int) {
	t.Helper()
	for i := 0; i < n; i++ {
		big := make([]byte, sizes[i%len(sizes)])
		require.NoError(t, push.Send(ctx, []byte(fmt.Sprint(i)), big))
	}
	for i := 0; i < n; i++ {
		m, err := pull.Recv(ctx)
		require.NoError(t, err)
		require.Len(t, m, 2)
		assert.Equal(t, fmt.Sprint(i), string(m[0]))
		assert.Len(t, m[1], sizes[i%len(sizes)])
	}
}

// TestWSMechanisms: PUSH→PULL over ws:// under each mechanism, with
// frames of every header size (short, long, beyond the pooled buffer and
// the chunk size).
func TestWSMechanisms(t *testing.T) {
	server, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	client, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	cases := map[string]struct{ pull, push []sockets.Option }{
		"NULL": {},
		"PLAIN": {
			pull: []sockets.Option{sockets.WithPlainServer(func(u, p string) bool { return u == "u" && p == "p" })},
			push: []sockets.Option{sockets.WithPlain("u", "p")},
		},
		"CURVE": {
			pull: []sockets.Option{sockets.WithCurveServer(server, func([32]byte) bool { return true })},
			push: []sockets.Option{sockets.WithCurve(server.Public, client)},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			push, pull := pushPull(t, "ws://127.0.0.1:0/zmq", c.pull, c.push)
			sendRecvN(t, ctx, push, pull, 40, 0, 1, 255, 256, 5000, 20<<10, 300<<10)
		})
	}
}

// TestWSPlainRefused: a PLAIN server's refusal reaches a ws dialer as
// over tcp (ErrRefusedByServer), and the dialer stops.
func TestWSPlainRefused(t *testing.T) {
	pull, _ := sockets.NewPull(sockets.WithPlainServer(func(u, p string) bool { return p == "right" }))
	defer pull.Close()
	addr, err := pull.Listen("ws://127.0.0.1:0/")
	require.NoError(t, err)
	push, _ := sockets.NewPush(sockets.WithPlain("u", "wrong"))
	defer push.Close()
	require.NoError(t, push.Dial(addr))
	ev := awaitEvent(t, push, sockets.EventHandshakeFailed)
	assert.ErrorIs(t, ev.Err, sockets.ErrRefusedByServer)
	assert.ErrorIs(t, awaitEvent(t, pull, sockets.EventHandshakeFailed).Err, sockets.ErrAuth)
}

func TestWSReqRepAndPubSub(t *testing.T) {
	ctx := ctxT(t)
	rep, _ := sockets.NewRep()
	defer rep.Close()
	addr, err := rep.Listen("ws://127.0.0.1:0")
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(addr, "/"), addr)
	req, _ := sockets.NewReq()
	defer req.Close()
	require.NoError(t, req.Dial(addr))
	go func() {
		for {
			m, err := rep.Recv(ctx)
			if err != nil {
				return
			}
			_ = rep.Send(ctx, append([]byte("re:"), m[0]...))
		}
	}()
	for i := 0; i < 5; i++ {
		require.NoError(t, req.Send(ctx, []byte(fmt.Sprint(i))))
		m, err := req.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, "re:"+fmt.Sprint(i), string(m[0]))
	}

	pub, _ := sockets.NewPub()
	defer pub.Close()
	paddr, err := pub.Listen("ws://127.0.0.1:0/events")
	require.NoError(t, err)
	sub, _ := sockets.NewSub(sockets.WithSubscribe("a"))
	defer sub.Close()
	require.NoError(t, sub.Dial(paddr))
	// The subscription travels after the connection: publish until it
	// takes.
	got := make(chan []byte, 1)
	go func() {
		m, err := sub.Recv(ctx)
		if err == nil {
			got <- m[0]
		}
	}()
	for {
		require.NoError(t, pub.Send(ctx, []byte("b-no")))
		require.NoError(t, pub.Send(ctx, []byte("a-yes")))
		select {
		case m := <-got:
			assert.Equal(t, "a-yes", string(m))
			return
		case <-ctx.Done():
			t.Fatal("no message")
		case <-waitShort():
		}
	}
}

// TestWSS: wss:// with a certificate the dialer trusts.
func TestWSS(t *testing.T) {
	ctx := ctxT(t)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.StartTLS() // for its certificate
	cert := srv.TLS.Certificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	srv.Close()
	push, pull := pushPull(t, "wss://127.0.0.1:0/s",
		[]sockets.Option{sockets.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})},
		[]sockets.Option{sockets.WithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "example.com"})})
	sendRecvN(t, ctx, push, pull, 10, 3, 70000)
}

// waitShort paces a retry loop (publishing until a subscription takes).
func waitShort() <-chan time.Time { return time.After(20 * time.Millisecond) }
