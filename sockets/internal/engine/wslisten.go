package engine

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// maxWSHeaderBytes bounds the HTTP request that opens a WebSocket: what a
// peer can make a ws listener read before the upgrade.
const maxWSHeaderBytes = 8 << 10

// ErrNotWebSocket reports an HTTP request to a ws endpoint that is no
// WebSocket upgrade, or that offers none of our subprotocols.
var ErrNotWebSocket = errors.New("not a ZWS WebSocket request")

// wsListen is what a Listener serving ZWS has beyond a tcp one.
type wsListen struct {
	srv  *http.Server // ws:// and wss:// endpoints; nil for a mounted handler
	path string
	// origins are the Origin patterns accepted beside the request's own
	// host (coder/websocket's OriginPatterns); anyOrigin skips the check.
	origins   []string
	anyOrigin bool
	maxPeers  int // the handler's own bound (0: Options.MaxConns)
}

// splitWS splits a ws endpoint's address into host:port and path.
func splitWS(addr string) (hostport, urlPath string) {
	hostport, urlPath, _ = strings.Cut(addr, "/")
	return hostport, "/" + urlPath
}

// listenWS binds a ws:// or wss:// endpoint: an HTTP server of our own on
// host:port that upgrades requests for the path.
func (l *Listener) listenWS(endpoint string) error {
	hostport, urlPath := splitWS(l.ep.Address)
	o := l.host.EngineOptions()
	if l.ep.Transport == "wss" && (o.TLSConfig == nil || (len(o.TLSConfig.Certificates) == 0 && o.TLSConfig.GetCertificate == nil)) {
		return fmt.Errorf("%w %q: wss needs a TLS configuration with a certificate (WithTLSConfig)", ErrBadEndpoint, endpoint)
	}
	addr, err := bindAddress(hostport)
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrBadEndpoint, endpoint, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return listenErr(err)
	}
	if o.MaxConns > 0 {
		ln = &capListener{Listener: ln, l: l, max: int64(o.MaxConns) + wsSlack}
	}
	l.ln, l.path = ln, urlPath
	l.addr = l.ep.Transport + "://" + ln.Addr().String() + urlPath
	timeout := o.HandshakeTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: timeout,
		IdleTimeout:       timeout,
		MaxHeaderBytes:    maxWSHeaderBytes,
		ErrorLog:          discardLog,
	}
	// One request per connection: a request that is not upgraded (a
	// refusal) costs its connection for that request only.
	l.srv.SetKeepAlivesEnabled(false)
	if l.ep.Transport == "wss" {
		// HTTP/1.1 only: a WebSocket is an upgrade of an HTTP/1.1 request
		// (coder/websocket takes over the connection).
		l.srv.TLSConfig = o.TLSConfig.Clone()
		l.srv.TLSConfig.NextProtos = []string{"http/1.1"}
		l.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		l.ln = tls.NewListener(ln, l.srv.TLSConfig)
	}
	return nil
}

// serveHTTP runs the listener's HTTP server until Close.
func (l *Listener) serveHTTP() {
	defer close(l.done)
	_ = l.srv.Serve(l.ln)
}

// NewWSHandler returns a listener that serves ZWS on the HTTP requests a
// server of the caller's hands it (ServeHTTP): the sockets package mounts
// it on a user's http.Server. name is its endpoint in events.
func NewWSHandler(host Host, g *Group, name string, origins []string, anyOrigin bool, maxPeers int) (*Listener, error) {
	for _, p := range origins {
		if _, err := matchOrigin(p); err != nil {
			return nil, fmt.Errorf("%w: origin pattern %q: %v", ErrBadEndpoint, p, err)
		}
	}
	l := &Listener{host: host, g: g, ep: Endpoint{Transport: "ws"}, addr: name,
		pipes: make(map[*Pipe]struct{}), done: make(chan struct{})}
	l.origins, l.anyOrigin, l.maxPeers = origins, anyOrigin, maxPeers
	close(l.done)
	return l, nil
}

// originPatterns splits "*" (any origin) from the patterns.
func originPatterns(ps []string) (patterns []string, any bool) {
	for _, p := range ps {
		if p == "*" {
			return nil, true
		}
	}
	return ps, false
}

// CheckOrigins refuses a malformed Origin pattern.
func CheckOrigins(ps []string) error {
	for _, p := range ps {
		if _, err := matchOrigin(p); err != nil {
			return fmt.Errorf("origin pattern %q: %v", p, err)
		}
	}
	return nil
}

// matchOrigin checks a pattern as coder/websocket will use it, so that a
// bad one is refused here rather than logged there.
func matchOrigin(p string) (bool, error) { return path.Match(strings.ToLower(p), "x") }

// discardLog is the HTTP server's error log: the library logs through
// events, never to stderr.
var discardLog = log.New(io.Discard, "", 0)

// ServeHTTP upgrades one request to a ZWS connection and serves it in the
// socket's group, as the accept loop does a tcp connection. The request's
// goroutine returns at once.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := l.host.EngineOptions()
	remote := r.RemoteAddr
	refuse := func(code int, kind EventKind, err error) {
		http.Error(w, http.StatusText(code), code)
		l.host.Emit(Event{Kind: kind, Endpoint: l.addr, Remote: remote, Err: err})
	}
	if l.path != "" && r.URL.Path != l.path {
		http.NotFound(w, r)
		return
	}
	subs := []string{Subprotocol(o.Security)}
	if subs[0] == SubprotocolNull {
		subs = append(subs, SubprotocolBare) // browsers can ask for no other
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		refuse(http.StatusUpgradeRequired, EventHandshakeFailed, fmt.Errorf("%w: no WebSocket upgrade (%s %s)", ErrNotWebSocket, r.Method, r.URL.Path))
		return
	}
	if !offers(r, subs) {
		refuse(http.StatusBadRequest, EventHandshakeFailed, fmt.Errorf("%w: subprotocols %q, want %s", ErrNotWebSocket,
			r.Header.Values("Sec-WebSocket-Protocol"), strings.Join(subs, " or ")))
		return
	}
	max := l.maxPeers
	if max <= 0 {
		max = o.MaxConns
	}
	if n := l.conns.Add(1); max > 0 && n > int64(max) {
		l.conns.Add(-1)
		refuse(http.StatusServiceUnavailable, EventRejected, fmt.Errorf("%w: %d", ErrTooManyConnections, max))
		return
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		l.conns.Add(-1)
		refuse(http.StatusServiceUnavailable, EventRejected, ErrClosing)
		return
	}
	origins, anyOrigin := l.origins, l.anyOrigin
	if l.srv != nil { // a listener of ours: the socket's options
		origins, anyOrigin = originPatterns(o.WSOrigins)
	}
	hw := &hijackWatch{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		Subprotocols:       subs,
		OriginPatterns:     origins,
		InsecureSkipVerify: anyOrigin,
	})
	if err != nil {
		l.conns.Add(-1)
		l.host.Emit(Event{Kind: EventHandshakeFailed, Endpoint: l.addr, Remote: remote,
			Err: fmt.Errorf("%w: %w", ErrNotWebSocket, err)})
		return
	}
	c := newWSConn(ws, hw.raw, o, true, ws.Subprotocol() == SubprotocolBare)
	c.cork = hw.cork
	if !l.g.track(c) {
		l.conns.Add(-1)
		_ = c.Close()
		return
	}
	if !l.g.Go(func() { l.serve(c) }) {
		l.conns.Add(-1)
		l.g.untrack(c)
		_ = c.Close()
	}
}

// offers reports whether the request offers one of subs.
func offers(r *http.Request, subs []string) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			for _, sub := range subs {
				if strings.EqualFold(strings.TrimSpace(p), sub) {
					return true
				}
			}
		}
	}
	return false
}

// hijackWatch keeps the connection that coder/websocket takes over, for
// its deadlines and addresses.
type hijackWatch struct {
	http.ResponseWriter
	raw  net.Conn
	cork *corkConn
}

func (h *hijackWatch) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	h.raw = c
	// net/http leaves the header timeouts' deadline behind.
	_ = c.SetDeadline(time.Time{})
	if brw.Writer.Buffered() == 0 {
		// The WebSocket's writes go through the cork.
		h.cork = &corkConn{Conn: c}
		brw.Writer.Reset(h.cork)
		return h.cork, brw, nil
	}
	return c, brw, nil
}
