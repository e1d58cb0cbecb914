package main

import (
	"net/http/httptest"
	"strconv"
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

// obs (issue 14): per-peer queue depth on /metrics.

// What waits in a peer's queue shows under its address.
func TestMetricsPeerQueueDepth(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	front := sock(t, sockets.Pull)
	back := sock(t, sockets.Push)
	addr, err := front.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	p, err := devices.NewStreamer(front, back) // not run: messages wait in front
	require.NoError(t, err)
	srv := httptest.NewServer(metricsHandler("streamer", p, map[string]*sockets.Socket{"frontend": front, "backend": back}))
	defer srv.Close()
	producer := sock(t, sockets.Push)
	require.NoError(t, producer.Dial(addr))
	for i := 0; i < 5; i++ {
		require.NoError(t, producer.Send(ctx, make([]byte, 10)))
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		ps := front.Peers()
		return len(ps) == 1 && ps[0].Queue.InMsgs == 5
	}, "queued in")
	remote := front.Peers()[0].Remote
	want := `zmqkit_peer_queued_messages{device="streamer",direction="in",peer="` + remote + `",side="frontend"} 5`
	page := scrapeUntil(t, strings.TrimPrefix(srv.URL, "http://"), want)
	assert.Contains(t, page, `zmqkit_peer_queued_bytes{device="streamer",direction="in",peer="`+remote+`",side="frontend"} 210`)
}

// However many peers, /metrics names at most maxPeerLabels of them, the
// busiest, and sums the rest as "other".
func TestTopPeersCapsCardinality(t *testing.T) {
	var peers []sockets.Peer
	for i := 0; i < maxPeerLabels+5; i++ {
		peers = append(peers, sockets.Peer{Remote: "10.0.0.1:" + strconv.Itoa(1000+i), Queue: sockets.PeerQueue{InMsgs: i, InBytes: int64(i)}})
	}
	peers = append(peers, sockets.Peer{Remote: "@", Queue: sockets.PeerQueue{OutMsgs: 1}}, sockets.Peer{Remote: "@", Queue: sockets.PeerQueue{OutMsgs: 2}})
	named, other := topPeers(peers, maxPeerLabels)
	require.Len(t, named, maxPeerLabels)
	require.NotNil(t, other)
	assert.Equal(t, "10.0.0.1:"+strconv.Itoa(1000+maxPeerLabels+4), named[0].label, "busiest first")
	total := 0
	for _, n := range named {
		total += n.q.InMsgs + n.q.OutMsgs
	}
	all := 3
	for i := 0; i < maxPeerLabels+5; i++ {
		all += i
	}
	assert.Equal(t, all, total+other.InMsgs+other.OutMsgs, "nothing lost in the cut")
	few, none := topPeers(peers[:3], maxPeerLabels)
	assert.Len(t, few, 3)
	assert.Nil(t, none)
}
