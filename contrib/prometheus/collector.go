// Package zmqprom exports a zmqkit socket's or proxy's counters to
// Prometheus: a prometheus.Collector that reads Stats, Peers and the
// proxy's Stats at scrape time, so nothing is counted twice and nothing
// is added to the message path. It is a module of its own
// (github.com/zmqkit/zmqkit/contrib/prometheus), so that programs that
// import zmqkit's sockets do not compile Prometheus's client.
//
//	reg.MustRegister(zmqprom.NewSocketCollector("orders", sock))
//	reg.MustRegister(zmqprom.NewProxyCollector("queue", proxy))
package zmqprom

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

// DefaultMaxPeers is how many peers a collector names in its per-peer
// queue metrics unless WithMaxPeers says otherwise.
const DefaultMaxPeers = 20

// Option configures a collector.
type Option func(*options)

type options struct {
	maxPeers int
	labels   prometheus.Labels
}

// WithMaxPeers sets how many peers the per-peer queue metrics name, the
// busiest by queued messages; the others are summed as peer="other", so
// that a socket with thousands of peers exports a bounded number of
// series. 0 names none (only "other"). Default DefaultMaxPeers.
func WithMaxPeers(n int) Option { return func(o *options) { o.maxPeers = max(n, 0) } }

// WithConstLabels adds labels to every metric of the collector.
func WithConstLabels(l prometheus.Labels) Option { return func(o *options) { o.labels = l } }

func optionsOf(opts []Option) options {
	o := options{maxPeers: DefaultMaxPeers}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// SocketCollector is the collector of one socket.
type SocketCollector struct {
	name string
	s    *sockets.Socket
	o    options

	msgs, bytes, dropped, events, decodeErrors, headerErrors, peers, peerMsgs, peerBytes *prometheus.Desc
}

// NewSocketCollector collects s's counters under the label socket=name.
//
// Metrics: zmqkit_socket_messages_total and zmqkit_socket_bytes_total
// (direction in/out), zmqkit_socket_dropped_total (reason),
// zmqkit_socket_events_total (event), zmqkit_socket_decode_errors_total,
// zmqkit_socket_header_errors_total, zmqkit_socket_peers (connected now),
// zmqkit_peer_queued_messages and zmqkit_peer_queued_bytes (peer,
// direction; see WithMaxPeers).
func NewSocketCollector(name string, s *sockets.Socket, opts ...Option) *SocketCollector {
	o := optionsOf(opts)
	// The name is a constant label, so that collectors of several
	// sockets register side by side (their Descs differ by it).
	d := func(metric, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metric, help, labels, withLabel(o.labels, "socket", name))
	}
	return &SocketCollector{
		name: name, s: s, o: o,
		msgs:         d("zmqkit_socket_messages_total", "Messages received by Recv (in) and accepted by Send (out).", "direction"),
		bytes:        d("zmqkit_socket_bytes_total", "Payload bytes of those messages.", "direction"),
		dropped:      d("zmqkit_socket_dropped_total", "Messages dropped, by reason.", "reason"),
		events:       d("zmqkit_socket_events_total", "Connection events, by kind.", "event"),
		decodeErrors: d("zmqkit_socket_decode_errors_total", "Messages a typed socket could not decode."),
		headerErrors: d("zmqkit_socket_header_errors_total", "Malformed header frames received."),
		peers:        d("zmqkit_socket_peers", "Peers connected now."),
		peerMsgs:     d("zmqkit_peer_queued_messages", "Messages waiting in a peer's queue now, for the busiest peers by address and the rest as peer=\"other\".", "peer", "direction"),
		peerBytes:    d("zmqkit_peer_queued_bytes", "Bytes waiting in a peer's queue now (payload plus 32 per frame).", "peer", "direction"),
	}
}

// Describe is prometheus.Collector's.
func (c *SocketCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.msgs, c.bytes, c.dropped, c.events, c.decodeErrors, c.headerErrors, c.peers, c.peerMsgs, c.peerBytes} {
		ch <- d
	}
}

// Collect is prometheus.Collector's: it reads the socket's counters now.
func (c *SocketCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.msgs, st.MsgsIn, "in")
	counter(c.msgs, st.MsgsOut, "out")
	counter(c.bytes, st.BytesIn, "in")
	counter(c.bytes, st.BytesOut, "out")
	for _, r := range []struct {
		reason string
		v      uint64
	}{{"full", st.Dropped}, {"unroutable", st.Unroutable}, {"conflated", st.Conflated}, {"stale_reply", st.DroppedReplies}} {
		counter(c.dropped, r.v, r.reason)
	}
	for _, e := range []struct {
		event string
		v     uint64
	}{
		{"connected", st.Connects}, {"disconnected", st.Disconnects}, {"handshake_failed", st.HandshakeFailures},
		{"auth_failed", st.AuthFailures}, {"message_too_large", st.TooLarge}, {"heartbeat_timeout", st.HeartbeatTimeouts},
		{"protocol_error", st.ProtocolErrors}, {"stalled", st.Stalled}, {"rejected", st.Rejected},
		{"connect_retried", st.ConnectRetries}, {"events_dropped", st.EventsDropped},
		{"subscription_refused", st.SubscriptionsRefused}, {"subscription_over_limit", st.SubscriptionsOverLimit},
	} {
		counter(c.events, e.v, e.event)
	}
	counter(c.decodeErrors, st.DecodeErrors)
	counter(c.headerErrors, st.HeaderErrors)
	peers := c.s.Peers()
	ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(len(peers)))
	gauge := func(d *prometheus.Desc, v float64, peer, dir string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, peer, dir)
	}
	for _, n := range TopPeers(peers, c.o.maxPeers) {
		gauge(c.peerMsgs, float64(n.Queue.InMsgs), n.Label, "in")
		gauge(c.peerMsgs, float64(n.Queue.OutMsgs), n.Label, "out")
		gauge(c.peerBytes, float64(n.Queue.InBytes), n.Label, "in")
		gauge(c.peerBytes, float64(n.Queue.OutBytes), n.Label, "out")
	}
}

// PeerDepth is one row of TopPeers: a label and the queue depth under it.
type PeerDepth struct {
	Label string
	Queue sockets.PeerQueue
}

// PeerLabel names a peer in a metric label: its address; for ipc and
// inproc peers, which have none of their own, its authenticated user or
// "ipc" / "inproc".
func PeerLabel(p sockets.Peer) string {
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

// TopPeers groups peers by PeerLabel and returns the limit busiest (by
// queued messages, in and out), busiest first, then one row "other"
// summing the rest when there are more.
func TopPeers(peers []sockets.Peer, limit int) []PeerDepth {
	by := map[string]*sockets.PeerQueue{}
	for _, p := range peers {
		l := PeerLabel(p)
		q := by[l]
		if q == nil {
			q = &sockets.PeerQueue{}
			by[l] = q
		}
		add(q, p.Queue)
	}
	rows := make([]PeerDepth, 0, len(by))
	for l, q := range by {
		rows = append(rows, PeerDepth{l, *q})
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i].Queue, rows[j].Queue
		if a.InMsgs+a.OutMsgs != b.InMsgs+b.OutMsgs {
			return a.InMsgs+a.OutMsgs > b.InMsgs+b.OutMsgs
		}
		return rows[i].Label < rows[j].Label
	})
	if len(rows) <= limit {
		return rows
	}
	other := PeerDepth{Label: "other"}
	for _, r := range rows[limit:] {
		add(&other.Queue, r.Queue)
	}
	return append(rows[:limit:limit], other)
}

func add(to *sockets.PeerQueue, q sockets.PeerQueue) {
	to.InMsgs += q.InMsgs
	to.OutMsgs += q.OutMsgs
	to.InBytes += q.InBytes
	to.OutBytes += q.OutBytes
}

// ProxyCollector is the collector of one devices.Proxy.
type ProxyCollector struct {
	name string
	p    *devices.Proxy

	msgs, bytes, dropped, captureDropped, paused *prometheus.Desc
}

// NewProxyCollector collects p's counters under the label proxy=name:
// zmqkit_proxy_messages_total and zmqkit_proxy_bytes_total (side
// frontend/backend, direction in/out as devices.SideStats counts them),
// zmqkit_proxy_dropped_total (side), zmqkit_proxy_capture_dropped_total,
// zmqkit_proxy_paused. Register a SocketCollector for each side's socket
// too for its connection events and per-peer queues.
func NewProxyCollector(name string, p *devices.Proxy, opts ...Option) *ProxyCollector {
	o := optionsOf(opts)
	d := func(metric, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metric, help, labels, withLabel(o.labels, "proxy", name))
	}
	return &ProxyCollector{
		name: name, p: p,
		msgs:           d("zmqkit_proxy_messages_total", "Messages through the proxy, by side and direction (in: received from that side's socket, out: sent out of it).", "side", "direction"),
		bytes:          d("zmqkit_proxy_bytes_total", "Payload bytes through the proxy, by side and direction.", "side", "direction"),
		dropped:        d("zmqkit_proxy_dropped_total", "Messages a side's socket dropped (full, unroutable, conflated).", "side"),
		captureDropped: d("zmqkit_proxy_capture_dropped_total", "Capture copies dropped at a full capture socket."),
		paused:         d("zmqkit_proxy_paused", "1 while the proxy is paused."),
	}
}

// Describe is prometheus.Collector's.
func (c *ProxyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.msgs, c.bytes, c.dropped, c.captureDropped, c.paused} {
		ch <- d
	}
}

// Collect is prometheus.Collector's.
func (c *ProxyCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, side := range []struct {
		name string
		s    devices.SideStats
	}{{"frontend", st.Frontend}, {"backend", st.Backend}} {
		counter(c.msgs, side.s.MsgsIn, side.name, "in")
		counter(c.msgs, side.s.MsgsOut, side.name, "out")
		counter(c.bytes, side.s.BytesIn, side.name, "in")
		counter(c.bytes, side.s.BytesOut, side.name, "out")
		counter(c.dropped, side.s.Dropped, side.name)
	}
	counter(c.captureDropped, st.CaptureDropped)
	paused := 0.0
	if st.Paused {
		paused = 1
	}
	ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused)
}

// withLabel is l with one more label (l is not changed).
func withLabel(l prometheus.Labels, k, v string) prometheus.Labels {
	out := make(prometheus.Labels, len(l)+1)
	for a, b := range l {
		out[a] = b
	}
	out[k] = v
	return out
}
