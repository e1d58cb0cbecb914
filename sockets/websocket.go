package sockets

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// WebSocket (ZWS 2.0, RFC 45): ws:// and wss:// endpoints for Listen and
// Dial, and Handler to serve a socket on a path of your own HTTP server.
// The security mechanism is the WebSocket subprotocol; see docs/websocket.md.

// The ZWS subprotocols, one per security mechanism, and RFC 45's "no
// mechanism". A listener accepts the one of its mechanism (and, without
// security, SubprotocolBare, the only one browsers can ask for); a dialer
// offers its own.
const (
	SubprotocolNull  = "ZWS2.0/NULL"
	SubprotocolPlain = "ZWS2.0/PLAIN"
	// SubprotocolCurve is libzmq's and ours: RFC 45 names NULL and PLAIN.
	// Frames travel as over tcp under CURVE, each sealed in a MESSAGE
	// command, each in a WebSocket message of its own.
	SubprotocolCurve = "ZWS2.0/CURVE"
	// SubprotocolBare is "no mechanism": each side's first message is its
	// routing id; then frames as under NULL.
	SubprotocolBare = "ZWS2.0"
)

// ErrNotWebSocket is the reason of the EventHandshakeFailed for an HTTP
// request to a ws endpoint that is no WebSocket upgrade, offers none of
// our subprotocols, or fails the Origin check.
var ErrNotWebSocket = errNotWebSocket() // "not a ZWS WebSocket request"

// ErrWSProtocol is why a ZWS connection ended when its peer broke the
// WebSocket mapping: a text message, an empty one, or a peer that closed
// with an error status.
var ErrWSProtocol = errWSProtocol() // "ZWS protocol error"

func errNotWebSocket() error { return engine.ErrNotWebSocket }
func errWSProtocol() error   { return engine.ErrWSProtocol }

// WithTLSConfig sets the TLS configuration of wss:// endpoints: a
// listener's certificate (required to Listen on wss), a dialer's roots
// and server name (nil: the system's roots and the endpoint's host). It
// is cloned at each use. libzmq's equivalent is its ZMQ_WSS_* options.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) error {
		c.TLSConfig = cfg
		return nil
	}
}

// WithWSOrigins sets the Origin patterns the socket's ws:// and wss://
// listeners accept from browsers beside the listener's own host and port
// (the default admits that one only, as Handler does), for a page served
// from another origin; "*" admits any. Patterns are as for WithOrigins.
// Peers that send no Origin (programs, not browsers) are never refused
// for it. libzmq's ws transport checks no Origin.
func WithWSOrigins(patterns ...string) Option {
	return func(c *config) error {
		if err := engine.CheckOrigins(patterns); err != nil {
			return fmt.Errorf("%w: %v", ErrBadOption, err)
		}
		c.WSOrigins = append(c.WSOrigins, patterns...)
		return nil
	}
}

// HandlerOption configures a Handler.
type HandlerOption func(*handlerConfig) error

type handlerConfig struct {
	origins   []string
	anyOrigin bool
	maxPeers  int
}

// WithOrigins accepts WebSocket requests from pages of these origins
// beside the request's own host (the default admits that one only). A
// pattern is a host ("example.com", "*.example.com", matched with
// path.Match) or, with "://", a scheme and host ("https://example.com").
func WithOrigins(patterns ...string) HandlerOption {
	return func(h *handlerConfig) error {
		if err := engine.CheckOrigins(patterns); err != nil {
			return fmt.Errorf("%w: %v", ErrBadOption, err)
		}
		h.origins = append(h.origins, patterns...)
		return nil
	}
}

// WithAnyOrigin turns the Origin check off: any web page may open the
// socket from its visitors' browsers. Use it for sockets that are public
// anyway, or behind a proxy that checks.
func WithAnyOrigin() HandlerOption {
	return func(h *handlerConfig) error {
		h.anyOrigin = true
		return nil
	}
}

// WithMaxPeers bounds the WebSocket peers the handler serves at once,
// handshaking or not; one more is answered 503 and reported as an
// EventRejected. 0 (the default) applies the socket's
// WithMaxConnections.
func WithMaxPeers(n int) HandlerOption {
	return func(h *handlerConfig) error {
		if n < 0 {
			return fmt.Errorf("%w: max peers %d < 0", ErrBadOption, n)
		}
		h.maxPeers = n
		return nil
	}
}

var handlerSeq atomic.Uint64

// Handler returns an http.Handler that serves the socket over WebSocket
// (ZWS 2.0), to mount on a path of your own http.Server beside your API:
// each request it upgrades is a peer, as one accepted on a ws:// Listen.
// Requests from another origin than the server's own are refused
// (WithOrigins, WithAnyOrigin). The handler's name, the Endpoint of its
// events, is returned too: Unbind(name) stops it, and so does Close.
func (s *Socket) Handler(opts ...HandlerOption) (http.Handler, string, error) {
	var hc handlerConfig
	for _, o := range opts {
		if err := o(&hc); err != nil {
			return nil, "", s.errorf("handler", "", err)
		}
	}
	name := fmt.Sprintf("ws+handler://%d", handlerSeq.Add(1))
	if s.typ == Stream {
		return nil, "", s.errorf("handler", name, fmt.Errorf("%w: a STREAM socket takes tcp and ipc only", ErrBadEndpoint))
	}
	l, err := engine.NewWSHandler((*host)(s), &s.g, name, hc.origins, hc.anyOrigin, hc.maxPeers)
	if err != nil {
		return nil, "", s.errorf("handler", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, "", s.errorf("handler", name, ErrClosed)
	}
	s.listeners[name] = l
	return l, name, nil
}
