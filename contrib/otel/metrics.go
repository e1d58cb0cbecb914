package zmqotel

import (
	"context"
	"errors"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ObserveSocket reports s's counters (sockets.Stats) and queue depths as
// OpenTelemetry metrics, read at each collection, under
// messaging.destination.name = name:
//
//	messaging.client.sent.messages      counter  messages Send accepted
//	messaging.client.consumed.messages  counter  messages Recv delivered
//	zmqkit.socket.bytes                 counter  payload bytes (zmqkit.direction in/out)
//	zmqkit.socket.drops                 counter  messages dropped (zmqkit.reason)
//	zmqkit.socket.connections           counter  connection events (zmqkit.event)
//	zmqkit.socket.reconnect_attempts    counter  failed Dial attempts, each followed by another
//	zmqkit.socket.decode_errors         counter  values a typed socket could not decode
//	zmqkit.socket.header_errors         counter  malformed header frames
//	zmqkit.socket.peers                 gauge    peers connected now
//	zmqkit.socket.queue.messages        gauge    messages queued, all peers (zmqkit.direction)
//	zmqkit.socket.queue.bytes           gauge    their bytes (payload plus 32 per frame)
//
// Per-peer depth is summed here, to keep the cardinality bounded; the
// Prometheus collector (contrib/prometheus) names the busiest peers.
// Unregister the returned registration when s is closed.
func (t *Telemetry) ObserveSocket(name string, s *sockets.Socket) (metric.Registration, error) {
	m := t.meter
	base := []attribute.KeyValue{keySystem.String(System), keyDestination.String(name), keySocketType.String(s.Type().String())}
	var errs []error
	counter := func(n, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(n, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	gauge := func(n, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(n, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	sent := counter("messaging.client.sent.messages", "{message}", "Messages the socket's Send accepted.")
	consumed := counter("messaging.client.consumed.messages", "{message}", "Messages the socket's Recv delivered.")
	bytes := counter("zmqkit.socket.bytes", "By", "Payload bytes sent and received.")
	drops := counter("zmqkit.socket.drops", "{message}", "Messages dropped, by reason.")
	conns := counter("zmqkit.socket.connections", "{event}", "Connection events, by kind.")
	retries := counter("zmqkit.socket.reconnect_attempts", "{attempt}", "Failed Dial attempts.")
	decodeErrs := counter("zmqkit.socket.decode_errors", "{message}", "Values a typed socket could not decode.")
	headerErrs := counter("zmqkit.socket.header_errors", "{message}", "Malformed header frames received.")
	peers := gauge("zmqkit.socket.peers", "{peer}", "Peers connected now.")
	qMsgs := gauge("zmqkit.socket.queue.messages", "{message}", "Messages queued now, all peers together.")
	qBytes := gauge("zmqkit.socket.queue.bytes", "By", "Bytes queued now, all peers together.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	with := func(kv ...attribute.KeyValue) metric.ObserveOption {
		return metric.WithAttributes(append(append([]attribute.KeyValue{}, base...), kv...)...)
	}
	in, out := attribute.String("zmqkit.direction", "in"), attribute.String("zmqkit.direction", "out")
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := s.Stats()
		o.ObserveInt64(sent, int64(st.MsgsOut), with())
		o.ObserveInt64(consumed, int64(st.MsgsIn), with())
		o.ObserveInt64(bytes, int64(st.BytesIn), with(in))
		o.ObserveInt64(bytes, int64(st.BytesOut), with(out))
		for reason, v := range map[string]uint64{"full": st.Dropped, "unroutable": st.Unroutable, "conflated": st.Conflated, "stale_reply": st.DroppedReplies} {
			o.ObserveInt64(drops, int64(v), with(attribute.String("zmqkit.reason", reason)))
		}
		for ev, v := range map[string]uint64{
			"connected": st.Connects, "disconnected": st.Disconnects, "handshake_failed": st.HandshakeFailures,
			"auth_failed": st.AuthFailures, "message_too_large": st.TooLarge, "heartbeat_timeout": st.HeartbeatTimeouts,
			"protocol_error": st.ProtocolErrors, "stalled": st.Stalled, "rejected": st.Rejected,
		} {
			o.ObserveInt64(conns, int64(v), with(attribute.String("zmqkit.event", ev)))
		}
		o.ObserveInt64(retries, int64(st.ConnectRetries), with())
		o.ObserveInt64(decodeErrs, int64(st.DecodeErrors), with())
		o.ObserveInt64(headerErrs, int64(st.HeaderErrors), with())
		ps := s.Peers()
		o.ObserveInt64(peers, int64(len(ps)), with())
		var q sockets.PeerQueue
		for _, p := range ps {
			q.InMsgs += p.Queue.InMsgs
			q.OutMsgs += p.Queue.OutMsgs
			q.InBytes += p.Queue.InBytes
			q.OutBytes += p.Queue.OutBytes
		}
		o.ObserveInt64(qMsgs, int64(q.InMsgs), with(in))
		o.ObserveInt64(qMsgs, int64(q.OutMsgs), with(out))
		o.ObserveInt64(qBytes, q.InBytes, with(in))
		o.ObserveInt64(qBytes, q.OutBytes, with(out))
		return nil
	}, sent, consumed, bytes, drops, conns, retries, decodeErrs, headerErrs, peers, qMsgs, qBytes)
}

// ObserveProxy reports p's counters (devices.Stats) under
// zmqkit.proxy.name = name: zmqkit.proxy.messages and zmqkit.proxy.bytes
// (zmqkit.side frontend/backend, zmqkit.direction in/out),
// zmqkit.proxy.drops (zmqkit.side), zmqkit.proxy.capture_drops and
// zmqkit.proxy.paused (1 while paused). ObserveSocket each side's socket
// too for its connections and queues.
func (t *Telemetry) ObserveProxy(name string, p *devices.Proxy) (metric.Registration, error) {
	m := t.meter
	var errs []error
	counter := func(n, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(n, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	msgs := counter("zmqkit.proxy.messages", "{message}", "Messages through the proxy, by side and direction.")
	bytes := counter("zmqkit.proxy.bytes", "By", "Payload bytes through the proxy, by side and direction.")
	drops := counter("zmqkit.proxy.drops", "{message}", "Messages a side's socket dropped.")
	capture := counter("zmqkit.proxy.capture_drops", "{message}", "Capture copies dropped at a full capture socket.")
	paused, err := m.Int64ObservableGauge("zmqkit.proxy.paused", metric.WithDescription("1 while the proxy is paused."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	nameAttr := attribute.String("zmqkit.proxy.name", name)
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := p.Stats()
		for side, s := range map[string]devices.SideStats{"frontend": st.Frontend, "backend": st.Backend} {
			sa := attribute.String("zmqkit.side", side)
			in := metric.WithAttributes(nameAttr, sa, attribute.String("zmqkit.direction", "in"))
			out := metric.WithAttributes(nameAttr, sa, attribute.String("zmqkit.direction", "out"))
			o.ObserveInt64(msgs, int64(s.MsgsIn), in)
			o.ObserveInt64(msgs, int64(s.MsgsOut), out)
			o.ObserveInt64(bytes, int64(s.BytesIn), in)
			o.ObserveInt64(bytes, int64(s.BytesOut), out)
			o.ObserveInt64(drops, int64(s.Dropped), metric.WithAttributes(nameAttr, sa))
		}
		o.ObserveInt64(capture, int64(st.CaptureDropped), metric.WithAttributes(nameAttr))
		v := int64(0)
		if st.Paused {
			v = 1
		}
		o.ObserveInt64(paused, v, metric.WithAttributes(nameAttr))
		return nil
	}, msgs, bytes, drops, capture, paused)
}
