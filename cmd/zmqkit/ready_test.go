package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// get is one GET of url: its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// readyzUntil GETs /readyz until it answers code with body, for 10 s, and
// fails with the last answer otherwise.
func readyzUntil(t *testing.T, addr string, code int, body string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		gotCode, gotBody := get(t, "http://"+addr+"/readyz")
		if gotCode == code && gotBody == body {
			return
		}
		require.True(t, time.Now().Before(deadline), "/readyz never answered %d %q; last: %d %q", code, body, gotCode, gotBody)
		<-tick.C // polling an HTTP endpoint: there is no event to wait on
	}
}

// A queue that must have a worker before it takes clients: /readyz is 503
// with the reason until one is connected, 200 then, and 503 again as soon
// as SIGTERM starts the drain, while /healthz says ok throughout.
func TestDeviceReadyzPeersAndDrain(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	d := startDevice(t, nil, "queue", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--metrics", "127.0.0.1:0", "--ready-peers", "backend=1", "--linger", "10s")
	code, body := get(t, "http://"+d.metrics+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: backend: 0 of 1 peers connected\n", body)
	code, body = get(t, "http://"+d.metrics+"/healthz")
	assert.Equal(t, http.StatusOK, code, "liveness does not wait for peers")
	assert.Equal(t, "ok\n", body)

	// A client on the frontend does not count for the backend.
	client := sock(t, sockets.Req)
	require.NoError(t, client.Dial(d.eps["frontend"]))
	waitPeers(t, client, 1)
	code, body = get(t, "http://"+d.metrics+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: backend: 0 of 1 peers connected\n", body)

	worker := sock(t, sockets.Rep)
	require.NoError(t, worker.Dial(d.eps["backend"]))
	readyzUntil(t, d.metrics, http.StatusOK, "ready\n")

	// A request held by the worker keeps the drain going (up to --linger):
	// /readyz says so while it lasts.
	require.NoError(t, client.Send(ctx, []byte("in flight")))
	_, err := worker.Recv(ctx)
	require.NoError(t, err)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	readyzUntil(t, d.metrics, http.StatusServiceUnavailable, "not ready: draining\n")
	code, _ = get(t, "http://"+d.metrics+"/healthz")
	assert.Equal(t, http.StatusOK, code, "alive while draining")
	require.NoError(t, worker.Send(ctx, []byte("answer")))
	rep, err := client.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "answer", string(rep[0]))
	assert.Equal(t, 0, d.wait(t))
}

// Without --ready-peers a device is ready once it runs; a total counts the
// peers of both sides.
func TestDeviceReadyzTotal(t *testing.T) {
	d := startDevice(t, nil, "forwarder", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--metrics", "127.0.0.1:0")
	code, body := get(t, "http://"+d.metrics+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready\n", body)

	d = startDevice(t, nil, "forwarder", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--metrics", "127.0.0.1:0", "--ready-peers", "2")
	readyzUntil(t, d.metrics, http.StatusServiceUnavailable, "not ready: 0 of 2 peers connected\n")
	pub := sock(t, sockets.Pub)
	require.NoError(t, pub.Dial(d.eps["frontend"]))
	readyzUntil(t, d.metrics, http.StatusServiceUnavailable, "not ready: 1 of 2 peers connected\n")
	sub := sock(t, sockets.Sub)
	require.NoError(t, sub.Dial(d.eps["backend"]))
	readyzUntil(t, d.metrics, http.StatusOK, "ready\n")
	// A peer that leaves makes it unready again.
	require.NoError(t, sub.Close())
	readyzUntil(t, d.metrics, http.StatusServiceUnavailable, "not ready: 1 of 2 peers connected\n")
}

// The readiness of sides not yet bound, which a running device never
// shows (it serves /readyz once everything is bound), checked directly.
func TestReadinessBinding(t *testing.T) {
	var draining atomic.Bool
	front := sock(t, sockets.Router)
	r := newReadiness(readyPeers{}, draining.Load)
	r.expect("frontend", front, 2)
	r.expect("backend", sock(t, sockets.Dealer), 0) // connects only
	r.expect("capture", sock(t, sockets.Pub), 1)
	srv := httptest.NewServer(withReadyz(http.NotFoundHandler(), r))
	defer srv.Close()

	code, body := get(t, srv.URL+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: frontend: 0 of 2 endpoints bound; capture: 0 of 1 endpoints bound\n", body)
	r.bound("frontend")
	r.bound("capture")
	_, body = get(t, srv.URL+"/readyz")
	assert.Equal(t, "not ready: frontend: 1 of 2 endpoints bound\n", body)
	r.bound("frontend")
	code, body = get(t, srv.URL+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready\n", body)
	draining.Store(true)
	code, body = get(t, srv.URL+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: draining\n", body)
	code, _ = get(t, srv.URL+"/metrics")
	assert.Equal(t, http.StatusNotFound, code, "other paths go to the wrapped handler")
}

func TestParseReadyPeers(t *testing.T) {
	for v, want := range map[string]readyPeers{
		"":                      {},
		"0":                     {},
		"3":                     {total: 3},
		"backend=1":             {perSide: map[string]int{"backend": 1}},
		"frontend=2, backend=1": {perSide: map[string]int{"frontend": 2, "backend": 1}},
	} {
		got, err := parseReadyPeers(v)
		require.NoError(t, err, "%q", v)
		assert.Equal(t, want, got, "%q", v)
	}
	for _, v := range []string{"-1", "x", "backend", "backend=", "backend=-1", "capture=1", "backend=1,backend=2", "1,2"} {
		_, err := parseReadyPeers(v)
		assert.ErrorContains(t, err, "--ready-peers", "%q", v)
	}
}

// --ready-peers without --metrics, or with a bad value, is bad usage that
// binds nothing.
func TestReadyPeersUsage(t *testing.T) {
	good := testutil.FreePort(t)
	for args, want := range map[string]string{
		"--ready-peers 1": "--ready-peers is for /readyz, which only --metrics serves",
		"--ready-peers backend=x --metrics 127.0.0.1:0": "--ready-peers \"backend=x\": want N",
	} {
		code, out, errOut := runCmd(t, append([]string{"queue", "--frontend", "tcp://" + good, "--backend", "tcp://127.0.0.1:0"},
			strings.Fields(args)...)...)
		assert.Equal(t, 2, code, args)
		assert.Empty(t, out)
		oneLine(t, errOut, "zmqkit queue: ", want)
		assertFree(t, good)
	}
}
