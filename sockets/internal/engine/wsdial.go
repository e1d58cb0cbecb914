package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// dialWS opens a ZWS connection to a ws:// or wss:// endpoint: TCP (and
// TLS), the HTTP upgrade offering our mechanism's subprotocol, and a check
// that the server chose it. The handshake timeout bounds the whole.
func dialWS(ctx context.Context, ep Endpoint, o *Options) (net.Conn, error) {
	hostport, urlPath := splitWS(ep.Address)
	if o.HandshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.HandshakeTimeout)
		defer cancel()
	}
	var raw net.Conn
	var cork *corkConn
	nd := net.Dialer{Timeout: o.ConnectTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetNoDelay(true)
				}
				raw = c
				// The WebSocket's writes (TLS records, for wss) go
				// through the cork.
				cork = &corkConn{Conn: c}
				return cork, nil
			}
			return c, err
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxWSHeaderBytes,
		ForceAttemptHTTP2:      false,
	}
	if ep.Transport == "wss" {
		cfg := &tls.Config{}
		if o.TLSConfig != nil {
			cfg = o.TLSConfig.Clone()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tr.TLSClientConfig = cfg
	}
	defer tr.CloseIdleConnections()
	scheme := "http"
	if ep.Transport == "wss" {
		scheme = "https"
	}
	sub := Subprotocol(o.Security)
	ws, resp, err := websocket.Dial(ctx, scheme+"://"+hostport+urlPath, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		Subprotocols: []string{sub},
	})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if raw != nil {
			_ = raw.Close()
		}
		return nil, err
	}
	if ws.Subprotocol() != sub {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("%w: the server chose subprotocol %q, we speak %s", ErrWSProtocol, ws.Subprotocol(), sub)
	}
	c := newWSConn(ws, raw, o, false, false)
	c.cork = cork
	return c, nil
}
