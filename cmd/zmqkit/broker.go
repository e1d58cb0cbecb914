package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/zmqkit/zmqkit/patterns/majordomo"
)

const brokerSynopsis = `Usage: zmqkit broker --bind EP[,EP...] [--heartbeat D] [--liveness N] [--metrics ADDR] [--log-level LEVEL] [--log-format text|json] [CURVE flags]

Run a Majordomo (MDP/0.1, rfc.zeromq.org/spec/7) service broker: clients
name a service, workers register for services, the broker routes each
request to a worker of its service, heartbeats workers, and answers
mmi.service ("is there a worker for this service?": 200 yes, 404 no).

Clients and workers both connect to a --bind endpoint. A worker is a
DEALER speaking MDP's worker protocol; in Go, patterns/majordomo has one:

  echo := func(_ context.Context, req [][]byte) ([][]byte, error) {
      return req, nil
  }
  w, err := majordomo.NewWorker("tcp://127.0.0.1:5555", "echo", echo)
  // handle err, then:
  err = w.Run(ctx) // serves until ctx ends

A client is majordomo.NewClient(endpoint) and its Send(ctx, service,
frames...), or any REQ socket sending the frames "MDPC01", the service
name, then the request; the reply comes back as "MDPC01", the service, the
reply frames. From the shell (frames are tab-separated):

  zmqkit broker --bind tcp://127.0.0.1:5555 &
  printf 'MDPC01\tmmi.service\techo\n' |
      zmqkit send --type req --connect tcp://127.0.0.1:5555
  # prints MDPC01<tab>mmi.service<tab>404; 200 once an "echo" worker is up
  printf 'MDPC01\techo\thello\n' |
      zmqkit send --type req --connect tcp://127.0.0.1:5555
  # with the worker above running: MDPC01<tab>echo<tab>hello
` + curveHelp

func runBroker(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return report(stderr, "broker", broker(ctx, args, stdout, stderr))
}

func broker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("broker")
	var bind, metricsAddr, logLevel, logFormat string
	envString(fs, &bind, "bind", "", "`endpoints` to bind, comma-separated ('@' prefix allowed)")
	envString(fs, &metricsAddr, "metrics", "", "serve Prometheus /metrics, /healthz and /readyz on `addr` (host:port)")
	envString(fs, &logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	envString(fs, &logFormat, "log-format", "text", "log `format`: text or json")
	heartbeat := fs.Duration("heartbeat", 2500*time.Millisecond, "heartbeat interval with workers")
	liveness := fs.Int("liveness", 3, "heartbeats a worker may miss before it is dropped")
	var curve curveFlags
	curve.register(fs, "", "the broker's socket", true)
	if err := parseFlags(fs, brokerSynopsis, args, stdout); err != nil {
		return err
	}
	specs, err := parseEndpoints("bind", bind, true)
	if err != nil {
		return err
	}
	for _, s := range specs {
		if !s.bind {
			return usagef("--bind %q: a broker binds; '>' (connect) does not fit", ">"+s.ep)
		}
	}
	if *heartbeat <= 0 || *liveness < 1 {
		return usagef("--heartbeat must be positive and --liveness at least 1")
	}
	if err := checkListenAddr("--metrics", metricsAddr); err != nil {
		return err
	}
	sec, err := curve.options()
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, logLevel, logFormat)
	if err != nil {
		return err
	}
	// Not "service": the broker's own records name an MDP service with it.
	log = log.With("component", "broker")
	for _, w := range curve.warnings {
		log.Warn(w)
	}
	b, err := majordomo.NewBroker(majordomo.WithHeartbeat(*heartbeat, *liveness), majordomo.WithLogger(log),
		majordomo.WithSocketOptions(sec...))
	if err != nil {
		return usagef("%v", err)
	}
	defer b.Close()
	// Logged once everything is bound, so that a failure part way logs
	// nothing but its error.
	var announce [][]any
	// /readyz (ready.go): every --bind endpoint bound, and not stopping.
	ready := newReadiness(readyPeers{}, func() bool { return ctx.Err() != nil })
	ready.expect("bind", nil, len(specs))
	for _, s := range specs {
		addr, err := b.Bind(s.ep)
		if err != nil {
			return endpointError("--bind", s.ep, err)
		}
		ready.bound("bind")
		if m := curve.mode(); m != "" {
			announce = append(announce, []any{"listening", "endpoint", addr, "curve", m})
		} else {
			announce = append(announce, []any{"listening", "endpoint", addr})
		}
	}
	var srv *http.Server
	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("--metrics %s: address already in use", metricsAddr)
			}
			return fmt.Errorf("--metrics %s: %v", metricsAddr, err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(newBrokerCollector(b), collectors.NewGoCollector())
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		mux.Handle("/readyz", ready)
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		announce = append(announce, []any{"serving metrics", "addr", ln.Addr().String()})
		go func() { _ = srv.Serve(ln) }()
	}
	for _, a := range announce {
		log.Info(a[0].(string), a[1:]...)
	}
	defer onSIGHUP(log, func() bool { return reloadClientList(log, &curve, b) })()
	log.Info("running")
	err = b.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	if ctx.Err() != nil {
		st := b.Stats()
		log.Info("signal received: stopped", "requests", st.Requests, "replies", st.Replies)
		return nil
	}
	return fmt.Errorf("broker stopped: %w", err)
}

// brokerCollector exports the broker's Stats.
type brokerCollector struct {
	b     *majordomo.Broker
	descs []*prometheus.Desc
}

type brokerMetric struct {
	name, help string
	kind       prometheus.ValueType
	value      func(majordomo.BrokerStats) float64
}

var brokerMetrics = []brokerMetric{
	{"workers", "Workers registered now.", prometheus.GaugeValue, func(s majordomo.BrokerStats) float64 { return float64(s.Workers) }},
	{"services", "Services known now.", prometheus.GaugeValue, func(s majordomo.BrokerStats) float64 { return float64(s.Services) }},
	{"queued", "Requests waiting for a worker now.", prometheus.GaugeValue, func(s majordomo.BrokerStats) float64 { return float64(s.Queued) }},
	{"requests_total", "Client requests received.", prometheus.CounterValue, func(s majordomo.BrokerStats) float64 { return float64(s.Requests) }},
	{"replies_total", "Worker replies forwarded.", prometheus.CounterValue, func(s majordomo.BrokerStats) float64 { return float64(s.Replies) }},
	{"requeued_total", "Requests requeued after a worker went away.", prometheus.CounterValue, func(s majordomo.BrokerStats) float64 { return float64(s.Requeued) }},
	{"expired_workers_total", "Workers dropped for silence.", prometheus.CounterValue, func(s majordomo.BrokerStats) float64 { return float64(s.Expired) }},
	{"dropped_total", "Requests dropped.", prometheus.CounterValue, func(s majordomo.BrokerStats) float64 { return float64(s.Dropped) }},
	{"malformed_total", "Messages dropped as not MDP/0.1.", prometheus.CounterValue, func(s majordomo.BrokerStats) float64 { return float64(s.Malformed) }},
}

func newBrokerCollector(b *majordomo.Broker) *brokerCollector {
	c := &brokerCollector{b: b}
	for _, m := range brokerMetrics {
		c.descs = append(c.descs, prometheus.NewDesc("zmqkit_broker_"+m.name, m.help, nil, nil))
	}
	return c
}

func (c *brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *brokerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Stats()
	for i, m := range brokerMetrics {
		ch <- prometheus.MustNewConstMetric(c.descs[i], m.kind, m.value(st))
	}
}
