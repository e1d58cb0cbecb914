package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

// A device command runs one proxy as a long-lived process:
//
//	zmqkit forwarder --frontend tcp://*:5559 --backend tcp://*:5560
//
// An endpoint is bound, or connected when it starts with '>' ('@' binds
// explicitly), as CZMQ's endpoint syntax has it; a flag takes several,
// separated by commas. Every flag can come from an environment variable
// instead (ZMQKIT_FRONTEND, ZMQKIT_BACKEND, …); the command line wins.
// The frontend and backend may each use CURVE (curve.go); the capture and
// control sockets do not.
type deviceKind struct {
	name        string
	summary     string
	front, back sockets.Type
	build       func(f, b *sockets.Socket, opts ...devices.Option) (*devices.Proxy, error)
}

var (
	forwarderKind = deviceKind{"forwarder", "run a pub/sub forwarder (XSUB frontend, XPUB backend)", sockets.XSub, sockets.XPub, devices.NewForwarder}
	queueKind     = deviceKind{"queue", "run a request/reply queue (ROUTER frontend, DEALER backend)", sockets.Router, sockets.Dealer, devices.NewQueue}
	streamerKind  = deviceKind{"streamer", "run a pipeline streamer (PULL frontend, PUSH backend)", sockets.Pull, sockets.Push, devices.NewStreamer}
)

func runForwarder(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return report(stderr, forwarderKind.name, runDevice(ctx, forwarderKind, args, stdout, stderr))
}

func runQueue(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return report(stderr, queueKind.name, runDevice(ctx, queueKind, args, stdout, stderr))
}

func runStreamer(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return report(stderr, streamerKind.name, runDevice(ctx, streamerKind, args, stdout, stderr))
}

type deviceFlags struct {
	frontend, backend, capture, control string
	hwm                                 int
	linger                              time.Duration
	metrics                             string
	logLevel, logFormat                 string
	frontCurve, backCurve               curveFlags
	topics                              string // forwarder: --backend-topics
	dnsServer                           string
	readyPeers                          string // --ready-peers (ready.go)
}

// envString registers a string flag whose default comes from ZMQKIT_<NAME>.
func envString(fs *flag.FlagSet, p *string, name, def, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	fs.StringVar(p, name, def, usage+" (env "+envName(name)+")")
}

func envName(flagName string) string {
	return "ZMQKIT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (d *deviceFlags) register(fs *flag.FlagSet) error {
	envString(fs, &d.frontend, "frontend", "", "frontend `endpoints`, comma-separated; '>' connects, '@' or nothing binds;\n"+
		"'>dns://NAME:PORT', '>srv://NAME' or '>list://HOST:PORT;HOST:PORT' connect to every member of a set")
	envString(fs, &d.backend, "backend", "", "backend `endpoints`, as --frontend")
	envString(fs, &d.capture, "capture", "", "copy every message, with an \"in\"/\"out\" first frame, to a PUB socket on `endpoint`")
	envString(fs, &d.control, "control", "", "steer the device from a REP socket on `endpoint` (PAUSE, RESUME, TERMINATE, STATISTICS)")
	envString(fs, &d.metrics, "metrics", "", "serve Prometheus /metrics, /healthz and /readyz on `addr` (host:port)")
	envString(fs, &d.readyPeers, "ready-peers", "", "/readyz: ready only with `N` peers (or SIDE=N,...) connected")
	envString(fs, &d.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	envString(fs, &d.logFormat, "log-format", "text", "log `format`: text or json")
	dnsServerFlag(fs, &d.dnsServer)
	d.frontCurve.register(fs, "frontend-", "the frontend", true)
	d.backCurve.register(fs, "backend-", "the backend", true)
	hwm := 1000
	if v, ok := os.LookupEnv(envName("hwm")); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return usagef("%s=%q: want a whole number >= 0", envName("hwm"), v)
		}
		hwm = n
	}
	fs.IntVar(&d.hwm, "hwm", hwm, "high-water mark of every socket, each way (0: none) (env ZMQKIT_HWM)")
	linger := 5 * time.Second
	if v, ok := os.LookupEnv(envName("linger")); ok {
		l, err := time.ParseDuration(v)
		if err != nil || l < 0 {
			return usagef("%s=%q: want a duration such as 5s", envName("linger"), v)
		}
		linger = l
	}
	fs.DurationVar(&d.linger, "linger", linger, "on SIGINT/SIGTERM, how long to write out queued messages (env ZMQKIT_LINGER)")
	return nil
}

// endpointSpec is one endpoint of a device flag.
type endpointSpec struct {
	bind bool
	ep   string
}

func parseEndpoints(flagName, v string, required bool) ([]endpointSpec, error) {
	if strings.TrimSpace(v) == "" {
		if required {
			return nil, usagef("missing --%s (or %s)", flagName, envName(flagName))
		}
		return nil, nil
	}
	var out []endpointSpec
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		spec := endpointSpec{bind: true, ep: part}
		switch {
		case strings.HasPrefix(part, ">"):
			spec = endpointSpec{bind: false, ep: part[1:]}
		case strings.HasPrefix(part, "@"):
			spec.ep = part[1:]
		}
		if spec.ep == "" {
			return nil, usagef("--%s: empty endpoint in %q", flagName, v)
		}
		if strings.HasPrefix(spec.ep, "inproc://") {
			return nil, usagef("--%s: inproc endpoint %q cannot be reached from another process", flagName, spec.ep)
		}
		if err := sockets.CheckEndpoint(spec.ep, spec.bind); err != nil {
			return nil, usagef("--%s: %v", flagName, err)
		}
		out = append(out, spec)
	}
	return out, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}

const deviceCurveHelp = `CURVE (RFC 26: encryption, and authentication by key), for each side on
its own: --frontend-curve-secret alone makes the frontend a CURVE server, which
admits any client that knows its public key, or with --frontend-curve-clients
only those clients; with --frontend-curve-server too, the frontend is a CURVE
client of that server. The backend flags are the same. Keys are Z85, 40
characters, as 'zmqkit keygen' prints them; any key flag takes @file instead,
to read the value from that file, so that secrets stay out of the process
list: bare keys (one per line or comma-separated), the output of 'zmqkit
keygen', or a CZMQ certificate (each flag takes the public or secret key it
needs). A client list read from @file is read again on SIGHUP: the
handshakes to come use it, and clients connected with a key it no longer
holds are disconnected. The capture and control sockets do not use CURVE.
`

// runDevice parses flags, wires the device, serves until ctx ends, then
// drains: it stops the proxy and closes the sockets within --linger.
func runDevice(ctx context.Context, kind deviceKind, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(kind.name)
	var df deviceFlags
	if err := df.register(fs); err != nil {
		return err
	}
	help := readyHelp + "\n" + deviceCurveHelp
	if kind.back == sockets.XPub {
		envString(fs, &df.topics, "backend-topics", "", "admit subscriptions on the backend only as `FILE` allows (see \"Who may subscribe\" above)")
		help += topicsHelp
	}
	synopsis := fmt.Sprintf("Usage: zmqkit %s --frontend EP[,EP...] --backend EP[,EP...] [--capture EP] [--control EP] [--hwm N] [--metrics ADDR [--ready-peers N]] [--log-level LEVEL] [--log-format text|json] [CURVE flags]\n\n%s.\n\n%s",
		kind.name, strings.ToUpper(kind.summary[:1])+kind.summary[1:], help)
	if err := parseFlags(fs, synopsis, args, stdout); err != nil {
		return err
	}
	front, err := parseEndpoints("frontend", df.frontend, true)
	if err != nil {
		return err
	}
	back, err := parseEndpoints("backend", df.backend, true)
	if err != nil {
		return err
	}
	capture, err := parseEndpoints("capture", df.capture, false)
	if err != nil {
		return err
	}
	control, err := parseEndpoints("control", df.control, false)
	if err != nil {
		return err
	}
	if df.hwm < 0 {
		return usagef("--hwm %d: want a whole number >= 0", df.hwm)
	}
	if err := checkListenAddr("--metrics", df.metrics); err != nil {
		return err
	}
	dnsOpts, err := checkDNSServer(df.dnsServer)
	if err != nil {
		return err
	}
	readyPeers, err := parseReadyPeers(df.readyPeers)
	if err != nil {
		return err
	}
	if readyPeers.set() && df.metrics == "" {
		return usagef("--ready-peers is for /readyz, which only --metrics serves")
	}
	// ready is what /readyz reports: told below of each endpoint bound,
	// and draining once ctx has ended.
	ready := newReadiness(readyPeers, func() bool { return ctx.Err() != nil })
	frontSec, err := df.frontCurve.options()
	if err != nil {
		return err
	}
	backSec, err := df.backCurve.options()
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, df.logLevel, df.logFormat)
	if err != nil {
		return err
	}
	log = log.With("device", kind.name)
	for _, w := range append(df.frontCurve.warnings, df.backCurve.warnings...) {
		log.Warn(w)
	}
	var rules atomic.Pointer[topicRules]
	readRules := func() (*topicRules, error) {
		r, err := parseTopicRules(df.topics)
		if err == nil && len(r.byKey) > 0 && df.backCurve.mode() != "server" {
			err = usagef("--backend-topics %s names CURVE keys, which only a CURVE server backend knows (--backend-curve-secret)", df.topics)
		}
		return r, err
	}
	if df.topics != "" {
		r, err := readRules()
		if err != nil {
			return err
		}
		rules.Store(r)
		backSec = append(backSec, sockets.WithSubscriptionFilter(func(p sockets.Peer, topic []byte) bool {
			if rules.Load().allow(p, topic) {
				return true
			}
			log.Info("subscription refused", "side", "backend", "user", p.UserID, "remote", p.Remote, "topic", formatLine([][]byte{topic}))
			return false
		}))
	}

	var opened []*sockets.Socket
	// What is bound or connected is logged once everything is, so that a
	// failure part way logs nothing but its error.
	var announce [][]any
	defer func() {
		for i := len(opened) - 1; i >= 0; i-- {
			opened[i].Close()
		}
	}()
	// curve is "server", "client" or "" (none), for the log.
	open := func(side string, t sockets.Type, specs []endpointSpec, curve string, security ...sockets.Option) (*sockets.Socket, error) {
		opts := append([]sockets.Option{sockets.WithSendHWM(df.hwm), sockets.WithRecvHWM(df.hwm),
			sockets.WithLinger(df.linger), sockets.WithLogger(log.With("side", side))}, append(dnsOpts, security...)...)
		s, err := sockets.New(t, opts...)
		if err != nil {
			return nil, err
		}
		opened = append(opened, s)
		nbind := 0
		for _, sp := range specs {
			if sp.bind {
				nbind++
			}
		}
		ready.expect(side, s, nbind)
		attrs := []any{"side", side}
		if curve != "" {
			attrs = append(attrs, "curve", curve)
		}
		for _, sp := range specs {
			if sp.bind {
				addr, err := s.Listen(sp.ep)
				if err != nil {
					return nil, endpointError("--"+side, sp.ep, err)
				}
				ready.bound(side)
				announce = append(announce, append([]any{"listening"}, append(attrs, "endpoint", addr)...))
			} else {
				if err := s.Dial(sp.ep); err != nil {
					return nil, endpointError("--"+side, sp.ep, err)
				}
				announce = append(announce, append([]any{"connecting"}, append(attrs, "endpoint", sp.ep)...))
			}
		}
		return s, nil
	}
	fs_, err := open("frontend", kind.front, front, df.frontCurve.mode(), frontSec...)
	if err != nil {
		return err
	}
	bs, err := open("backend", kind.back, back, df.backCurve.mode(), backSec...)
	if err != nil {
		return err
	}
	opts := []devices.Option{devices.WithLogger(log), devices.WithDrain(df.linger)}
	if capture != nil {
		cs, err := open("capture", sockets.Pub, capture, "")
		if err != nil {
			return err
		}
		opts = append(opts, devices.WithCapture(cs, true))
	}
	if control != nil {
		cs, err := open("control", sockets.Rep, control, "")
		if err != nil {
			return err
		}
		opts = append(opts, devices.WithControl(cs))
	}
	proxy, err := kind.build(fs_, bs, opts...)
	if err != nil {
		return err
	}

	var srv *http.Server
	if df.metrics != "" {
		ln, err := net.Listen("tcp", df.metrics)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("--metrics %s: address already in use", df.metrics)
			}
			return fmt.Errorf("--metrics %s: %v", df.metrics, err)
		}
		srv = &http.Server{Handler: withReadyz(metricsHandler(kind.name, proxy, map[string]*sockets.Socket{"frontend": fs_, "backend": bs}), ready),
			ReadHeaderTimeout: 5 * time.Second}
		announce = append(announce, []any{"serving metrics", "addr", ln.Addr().String()})
		go func() { _ = srv.Serve(ln) }()
	}
	for _, a := range announce {
		log.Info(a[0].(string), a[1:]...)
	}

	// SIGHUP reads the client lists and the topic rules again, for the
	// handshakes and subscriptions to come.
	defer onSIGHUP(log, func() bool {
		front := reloadClientList(log, &df.frontCurve, fs_)
		back := reloadClientList(log, &df.backCurve, bs)
		if df.topics == "" {
			return front || back
		}
		if r, err := readRules(); err != nil {
			log.Error("reload failed; the topic rules in force stay", "flag", "--backend-topics", "err", err)
		} else {
			rules.Store(r)
			log.Info("reloaded", "flag", "--backend-topics", "keys", len(r.byKey))
		}
		return true
	})()

	log.Info("running")
	err = proxy.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	switch {
	case err == nil:
		log.Info("terminated by control command")
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The proxy logged its drain as it began ("zmqkit: proxy draining").
		log.Info("signal received: drained; closing", "linger", df.linger.String())
		err = nil
	default:
		return fmt.Errorf("device stopped: %w", err)
	}
	for i := len(opened) - 1; i >= 0; i-- {
		opened[i].Close()
	}
	opened = nil
	st := proxy.Stats()
	log.Info("stopped", "frontend_in", st.Frontend.MsgsIn, "backend_out", st.Backend.MsgsOut,
		"backend_in", st.Backend.MsgsIn, "frontend_out", st.Frontend.MsgsOut)
	return err
}
