package zmqprom_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	zmqprom "github.com/zmqkit/zmqkit/contrib/prometheus"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		<-tk.C
	}
}

func TestSocketCollector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pull, err := sockets.NewPull()
	require.NoError(t, err)
	defer pull.Close()
	_, err = pull.Listen("inproc://prom-socket")
	require.NoError(t, err)
	push, err := sockets.NewPush()
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial("inproc://prom-socket"))
	for i := 0; i < 3; i++ {
		require.NoError(t, push.Send(ctx, []byte("hello")))
	}
	_, err = pull.Recv(ctx)
	require.NoError(t, err)

	c := zmqprom.NewSocketCollector("in", pull)
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems)
	want := `
# HELP zmqkit_socket_messages_total Messages received by Recv (in) and accepted by Send (out).
# TYPE zmqkit_socket_messages_total counter
zmqkit_socket_messages_total{direction="in",socket="in"} 1
zmqkit_socket_messages_total{direction="out",socket="in"} 0
# HELP zmqkit_socket_bytes_total Payload bytes of those messages.
# TYPE zmqkit_socket_bytes_total counter
zmqkit_socket_bytes_total{direction="in",socket="in"} 5
zmqkit_socket_bytes_total{direction="out",socket="in"} 0
# HELP zmqkit_peer_queued_messages Messages waiting in a peer's queue now, for the busiest peers by address and the rest as peer="other".
# TYPE zmqkit_peer_queued_messages gauge
zmqkit_peer_queued_messages{direction="in",peer="inproc",socket="in"} 2
zmqkit_peer_queued_messages{direction="out",peer="inproc",socket="in"} 0
# HELP zmqkit_peer_queued_bytes Bytes waiting in a peer's queue now (payload plus 32 per frame).
# TYPE zmqkit_peer_queued_bytes gauge
zmqkit_peer_queued_bytes{direction="in",peer="inproc",socket="in"} 74
zmqkit_peer_queued_bytes{direction="out",peer="inproc",socket="in"} 0
# HELP zmqkit_socket_peers Peers connected now.
# TYPE zmqkit_socket_peers gauge
zmqkit_socket_peers{socket="in"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"zmqkit_socket_messages_total", "zmqkit_socket_bytes_total", "zmqkit_peer_queued_messages", "zmqkit_peer_queued_bytes", "zmqkit_socket_peers"))

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	require.NoError(t, reg.Register(zmqprom.NewSocketCollector("out", push)), "two sockets, one registry")
}

func TestProxyCollector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	front, err := sockets.NewPull()
	require.NoError(t, err)
	defer front.Close()
	back, err := sockets.NewPush()
	require.NoError(t, err)
	defer back.Close()
	_, err = front.Listen("inproc://prom-front")
	require.NoError(t, err)
	_, err = back.Listen("inproc://prom-back")
	require.NoError(t, err)
	p, err := devices.NewStreamer(front, back)
	require.NoError(t, err)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	defer func() { stop(); <-done }()
	producer, err := sockets.NewPush()
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.Dial("inproc://prom-front"))
	consumer, err := sockets.NewPull()
	require.NoError(t, err)
	defer consumer.Close()
	require.NoError(t, consumer.Dial("inproc://prom-back"))
	require.NoError(t, producer.Send(ctx, []byte("abc")))
	_, err = consumer.Recv(ctx)
	require.NoError(t, err)
	p.Pause()

	c := zmqprom.NewProxyCollector("streamer", p, zmqprom.WithConstLabels(prometheus.Labels{"host": "h"}))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems)
	eventually(t, func() bool { return p.Stats().Backend.MsgsOut == 1 }, "counted")
	want := `
# HELP zmqkit_proxy_messages_total Messages through the proxy, by side and direction (in: received from that side's socket, out: sent out of it).
# TYPE zmqkit_proxy_messages_total counter
zmqkit_proxy_messages_total{direction="in",host="h",proxy="streamer",side="backend"} 0
zmqkit_proxy_messages_total{direction="in",host="h",proxy="streamer",side="frontend"} 1
zmqkit_proxy_messages_total{direction="out",host="h",proxy="streamer",side="backend"} 1
zmqkit_proxy_messages_total{direction="out",host="h",proxy="streamer",side="frontend"} 0
# HELP zmqkit_proxy_paused 1 while the proxy is paused.
# TYPE zmqkit_proxy_paused gauge
zmqkit_proxy_paused{host="h",proxy="streamer"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "zmqkit_proxy_messages_total", "zmqkit_proxy_paused"))
	assert.Equal(t, 3.0, testutil.ToFloat64(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		m := make(chan prometheus.Metric, 100)
		c.Collect(m)
		close(m)
		for x := range m {
			if strings.Contains(x.Desc().String(), "zmqkit_proxy_bytes_total") {
				ch <- x
				return
			}
		}
	})), "bytes of the first bytes series")
}

func TestTopPeersCap(t *testing.T) {
	var peers []sockets.Peer
	for i := 0; i < 30; i++ {
		peers = append(peers, sockets.Peer{Remote: "10.0.0.1:" + strconv.Itoa(i), Queue: sockets.PeerQueue{InMsgs: i}})
	}
	rows := zmqprom.TopPeers(peers, 5)
	require.Len(t, rows, 6)
	assert.Equal(t, "10.0.0.1:29", rows[0].Label)
	assert.Equal(t, "other", rows[5].Label)
	assert.Equal(t, 0+1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16+17+18+19+20+21+22+23+24, rows[5].Queue.InMsgs)
	assert.Len(t, zmqprom.TopPeers(peers, 0), 1, "only other")
}
