package main

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// TestWebServesPageAndBridges: zmqkit web serves the page and relays a
// tcp PUB to /events (a Go ws SUB stands in for the page here; the page
// itself is driven in Chromium by contrib/browsertest).
func TestWebServesPageAndBridges(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	pub := sock(t, sockets.Pub)
	paddr, err := pub.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	p := start(t, nil, "web", "--listen", "127.0.0.1:0", "--sub", paddr)
	base := p.stderr.waitLine(t, "listening http://", 10*time.Second)
	resp, err := http.Get("http://" + base)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Contains(t, string(body), "zmqkit in the browser")
	sub := sock(t, sockets.Sub, sockets.WithSubscribe(""))
	require.NoError(t, sub.Dial("ws://"+base+"events"))
	for {
		require.NoError(t, pub.Send(ctx, []byte("live")))
		rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		m, err := sub.Recv(rctx)
		cancel()
		if err == nil {
			assert.Equal(t, "live", string(m[0]))
			break
		}
		require.NoError(t, ctx.Err())
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, p.wait(t))
}
