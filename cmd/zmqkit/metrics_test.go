package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// A subscription over a backend subscriber's limits is counted in the
// socket events, beside those the --backend-topics filter refuses.
func TestMetricsSubscriptionsOverLimit(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	front := sock(t, sockets.XSub)
	back := sock(t, sockets.XPub, sockets.WithMaxSubscriptions(1))
	addr, err := back.Listen("inproc://metrics-over-limit")
	require.NoError(t, err)
	p, err := devices.NewForwarder(front, back)
	require.NoError(t, err)
	srv := httptest.NewServer(metricsHandler("forwarder", p, map[string]*sockets.Socket{"frontend": front, "backend": back}))
	defer srv.Close()

	sub := sock(t, sockets.Sub, sockets.WithSubscribe("a"), sockets.WithSubscribe("b"), sockets.WithSubscribe("c"))
	require.NoError(t, sub.Dial(addr))
	m, err := back.Recv(ctx)
	require.NoError(t, err)
	require.Len(t, m, 1)

	want := `zmqkit_socket_events_total{device="forwarder",event="subscription_over_limit",side="backend"} 2`
	page := scrapeUntil(t, strings.TrimPrefix(srv.URL, "http://"), want)
	assert.Contains(t, page, want)
	assert.Contains(t, page, `zmqkit_socket_events_total{device="forwarder",event="subscription_refused",side="backend"} 0`)
}
