package main

import (
	"net"
	"net/http"
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
	return c
}

func (c *deviceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.msgs, c.bytes, c.dropped, c.captureDropped, c.paused, c.peers, c.events} {
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
		ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(len(s.Peers())), c.device, side)
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
