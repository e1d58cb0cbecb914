package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zmqkit/zmqkit/sockets"
	"github.com/zmqkit/zmqkit/web"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestDemoBridges: the demo serves the page and zmqkit.js, forwards a tcp
// publisher to /events and queues /rpc requests to a tcp REP (Go sockets
// stand in for the browser here; contrib/browsertest drives Chromium).
func TestDemoBridges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, _ := sockets.NewPub()
	defer pub.Close()
	paddr, err := pub.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	rep, _ := sockets.NewRep()
	defer rep.Close()
	raddr, err := rep.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	go func() {
		for {
			m, err := rep.Recv(ctx)
			if err != nil {
				return
			}
			_ = rep.Send(ctx, append([]byte("re:"), m[0]...))
		}
	}()
	d, err := web.NewDemo([]string{paddr}, raddr)
	require.NoError(t, err)
	srv := httptest.NewServer(d)
	defer srv.Close()
	defer d.Close()
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- d.Run(runCtx) }()
	defer func() {
		stop()
		assert.NoError(t, <-ran)
	}()

	assert.Contains(t, get(t, srv.URL+"/"), "zmqkit in the browser")
	assert.Contains(t, get(t, srv.URL+"/zmqkit.js"), "export class Sub")
	assert.Equal(t, string(web.Script()), get(t, srv.URL+"/zmqkit.js"))

	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	sub, _ := sockets.NewSub(sockets.WithSubscribe("t"))
	defer sub.Close()
	require.NoError(t, sub.Dial(ws+"/events"))
	for {
		require.NoError(t, pub.Send(ctx, []byte("t"), []byte("x")))
		rctx, c := context.WithTimeout(ctx, 50*time.Millisecond)
		m, err := sub.Recv(rctx)
		c()
		if err == nil {
			assert.Equal(t, "t", string(m[0]))
			break
		}
		require.NoError(t, ctx.Err())
	}
	req, _ := sockets.NewReq()
	defer req.Close()
	require.NoError(t, req.Dial(ws+"/rpc"))
	require.NoError(t, req.Send(ctx, []byte("q")))
	m, err := req.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "re:q", string(m[0]))
}
