package main

import (
	"net"
	"net/http"
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

// deviceCollector reads a device's counters at scrape time.
type deviceCollector struct {
	device string
	proxy  *devices.Proxy
	socks  map[string]*sockets.Socket

	msgs, bytes, dropped, captureDropped, paused, peers, events *prometheus.Desc
	peerMsgs, peerBytes                                         *prometheus.Desc // obs: per-peer queue depth
}

func newDeviceCollector(device string, p *devices.Proxy, socks map[string]*sockets.Socket) *deviceCollector {
	c := &deviceCollector{device: device, proxy: p, socks: socks}
	c.msgs = prometheus.NewDesc("zmqkit_device_messages_total", "Messages moved through the device, by side and direction (in: received from that side's socket, out: sent out of it).", []string{"device", "side", "direction"}, nil)
	c.bytes = prometheus.NewDesc("zmqkit_device_bytes_total", "Payload bytes moved through the device, by side and direction.", []string{"device", "side", "direction"}, nil)
	c.dropped = prometheus.NewDesc("zmqkit_device_dropped_total", "Messages a side's socket dropped (slow subscriber, unroutable).", []string{"device", "side"}, nil)
	c.captureDropped = prometheus.NewDesc("zmqkit_device_capture_dropped_total", "Capture copies dropped because the capture socket was full.", []string{"device"}, nil)
	c.paused = prometheus.NewDesc("zmqkit_device_paused", "1 while the device is paused.", []string{"device"}, nil)
	c.peers = prometheus.NewDesc("zmqkit_socket_peers", "Peers connected to a side's socket now.", []string{"device", "side"}, nil)
	c.events = prometheus.NewDesc("zmqkit_socket_events_total", "Connection events of a side's socket.", []string{"device", "side", "event"}, nil)
	// obs (issue 14): per-peer queue depth, the busiest maxPeerLabels
	// peers by name and the rest as "other".
	c.peerMsgs = prometheus.NewDesc("zmqkit_peer_queued_messages", "Messages waiting in a peer's queue now (in: received, not yet forwarded; out: to be written to it), for the busiest peers by address and the rest together as peer=\"other\".", []string{"device", "side", "peer", "direction"}, nil)
	c.peerBytes = prometheus.NewDesc("zmqkit_peer_queued_bytes", "Bytes waiting in a peer's queue now (payload plus 32 per frame), labelled as zmqkit_peer_queued_messages.", []string{"device", "side", "peer", "direction"}, nil)
	return c
}

func (c *deviceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.msgs, c.bytes, c.dropped, c.captureDropped, c.paused, c.peers, c.events, c.peerMsgs, c.peerBytes} {
		ch <- d
	}
}

func (c *deviceCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.proxy.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for side, s := range map[string]devices.SideStats{"frontend": st.Frontend, "backend": st.Backend} {
		counter(c.msgs, s.MsgsIn, c.device, side, "in")
		counter(c.msgs, s.MsgsOut, c.device, side, "out")
		counter(c.bytes, s.BytesIn, c.device, side, "in")
		counter(c.bytes, s.BytesOut, c.device, side, "out")
		counter(c.dropped, s.Dropped, c.device, side)
	}
	counter(c.captureDropped, st.CaptureDropped, c.device)
	paused := 0.0
	if st.Paused {
		paused = 1
	}
	ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused, c.device)
	for side, s := range c.socks {
		ss := s.Stats()
		// Stats.Peers counts a Dial's pipe while it reconnects, too.
		peers := s.Peers()
		ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(len(peers)), c.device, side)
		c.collectPeers(ch, side, peers) // obs
		for ev, v := range map[string]uint64{
			"connected": ss.Connects, "disconnected": ss.Disconnects, "handshake_failed": ss.HandshakeFailures, "auth_failed": ss.AuthFailures,
			"message_too_large": ss.TooLarge, "heartbeat_timeout": ss.HeartbeatTimeouts, "protocol_error": ss.ProtocolErrors, "stalled": ss.Stalled,
			"rejected": ss.Rejected, "connect_retried": ss.ConnectRetries, "subscription_refused": ss.SubscriptionsRefused,
			"subscription_over_limit": ss.SubscriptionsOverLimit,
		} {
			counter(c.events, v, c.device, side, ev)
		}
	}
}

// metricsHandler serves /metrics (the device's counters plus the Go
// runtime's and the process's) and /healthz.
func metricsHandler(device string, p *devices.Proxy, socks map[string]*sockets.Socket) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newDeviceCollector(device, p, socks), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// checkListenAddr validates a host:port flag (--metrics) before anything
// listens: "" (not given) passes; a missing or bad port is bad usage.
// Whether the address is free only listening tells.
func checkListenAddr(flagName, addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("%s %q: want host:port, such as 127.0.0.1:9100 or :9100", flagName, addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > 65535 {
		return usagef("%s %q: bad port %q (want 0 to 65535)", flagName, addr, port)
	}
	return nil
}

// obs (issue 14): per-peer queue depth with bounded label cardinality.

// maxPeerLabels is how many peers /metrics names, the busiest by queued
// messages; the others are summed as peer="other", so that a device with
// thousands of peers exports a bounded number of series.
const maxPeerLabels = 20

// peerLabel names a peer in a label: its address, its authenticated
// user when it has no address of its own (ipc, inproc).
func peerLabel(p sockets.Peer) string {
	switch {
	case p.Remote != "" && p.Remote != "@":
		return p.Remote
	case p.UserID != "":
		return "user:" + p.UserID
	case p.Remote == "@":
		return "ipc"
	}
	return "inproc"
}

// topPeers sorts peers busiest first and cuts them at limit: the named
// ones, and the sum of the rest (nil when none is left over). Peers that
// share a label (ipc, inproc) are summed under it.
func topPeers(peers []sockets.Peer, limit int) (named []namedQueue, other *sockets.PeerQueue) {
	byLabel := map[string]*sockets.PeerQueue{}
	for _, p := range peers {
		l := peerLabel(p)
		q := byLabel[l]
		if q == nil {
			q = &sockets.PeerQueue{}
			byLabel[l] = q
		}
		addQueue(q, p.Queue)
	}
	for l, q := range byLabel {
		named = append(named, namedQueue{l, *q})
	}
	sort.Slice(named, func(i, j int) bool {
		a, b := named[i].q, named[j].q
		if a.InMsgs+a.OutMsgs != b.InMsgs+b.OutMsgs {
			return a.InMsgs+a.OutMsgs > b.InMsgs+b.OutMsgs
		}
		return named[i].label < named[j].label
	})
	if len(named) <= limit {
		return named, nil
	}
	other = &sockets.PeerQueue{}
	for _, n := range named[limit:] {
		addQueue(other, n.q)
	}
	return named[:limit], other
}

type namedQueue struct {
	label string
	q     sockets.PeerQueue
}

func addQueue(to *sockets.PeerQueue, q sockets.PeerQueue) {
	to.InMsgs += q.InMsgs
	to.OutMsgs += q.OutMsgs
	to.InBytes += q.InBytes
	to.OutBytes += q.OutBytes
}

func (c *deviceCollector) collectPeers(ch chan<- prometheus.Metric, side string, peers []sockets.Peer) {
	named, other := topPeers(peers, maxPeerLabels)
	if other != nil {
		named = append(named, namedQueue{"other", *other})
	}
	gauge := func(d *prometheus.Desc, v float64, peer, dir string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, c.device, side, peer, dir)
	}
	for _, n := range named {
		gauge(c.peerMsgs, float64(n.q.InMsgs), n.label, "in")
		gauge(c.peerMsgs, float64(n.q.OutMsgs), n.label, "out")
		gauge(c.peerBytes, float64(n.q.InBytes), n.label, "in")
		gauge(c.peerBytes, float64(n.q.OutBytes), n.label, "out")
	}
}
