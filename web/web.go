// Package web brings zmqkit to web browsers: zmqkit.js, a small
// JavaScript client (SUB, REQ, DEALER over ZWS 2.0 with NULL; no
// dependency, no build step), and a demo page that shows a PUB's messages
// live with a msgs/s plot. Assets serves both; Demo also bridges a tcp
// publisher and a tcp REP to the page, as `zmqkit web` does.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

//go:embed assets
var assets embed.FS

// Assets serves zmqkit.js and the demo page (index.html, at "/"). The page
// connects to the endpoints in its query (?sub=ws://…&req=ws://…&topic=…),
// by default to /events and /rpc of the server that served it.
func Assets() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.FileServer(http.FS(sub))
}

// Script is zmqkit.js, for serving it elsewhere.
func Script() []byte {
	b, _ := assets.ReadFile("assets/zmqkit.js")
	return b
}

// Demo serves the demo page and bridges it to ZeroMQ peers: browsers
// subscribe at /events to what the publishers at Sub publish (a forwarder,
// subscriptions travel upstream), and send requests at /rpc to the REP or
// ROUTER at RPC (a queue).
type Demo struct {
	xsub, xpub, router, dealer *sockets.Socket
	fwd, queue                 *devices.Proxy
	mux                        *http.ServeMux
}

// NewDemo dials sub (publishers; at least one) and, unless it is "", rpc
// (a REP or ROUTER). opts apply to the sockets that face the browsers (an
// Origin option such as sockets.WithMaxConnections, say); the page is
// same-origin, so no Origin option is needed for it.
func NewDemo(sub []string, rpc string, hopts ...sockets.HandlerOption) (d *Demo, err error) {
	if len(sub) == 0 {
		return nil, errors.New("web: no publisher endpoint")
	}
	d = &Demo{mux: http.NewServeMux()}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.xsub, err = sockets.NewXSub(); err != nil {
		return nil, err
	}
	for _, ep := range sub {
		if err = d.xsub.Dial(ep); err != nil {
			return nil, err
		}
	}
	if d.xpub, err = sockets.NewXPub(); err != nil {
		return nil, err
	}
	h, _, err := d.xpub.Handler(hopts...)
	if err != nil {
		return nil, err
	}
	d.mux.Handle("/events", h)
	if d.fwd, err = devices.NewForwarder(d.xsub, d.xpub); err != nil {
		return nil, err
	}
	if rpc != "" {
		if d.router, err = sockets.NewRouter(); err != nil {
			return nil, err
		}
		if d.dealer, err = sockets.NewDealer(); err != nil {
			return nil, err
		}
		if err = d.dealer.Dial(rpc); err != nil {
			return nil, err
		}
		h, _, err := d.router.Handler(hopts...)
		if err != nil {
			return nil, err
		}
		d.mux.Handle("/rpc", h)
		if d.queue, err = devices.NewQueue(d.router, d.dealer); err != nil {
			return nil, err
		}
	}
	d.mux.Handle("/", Assets())
	return d, nil
}

// ServeHTTP serves the page, zmqkit.js, /events and /rpc.
func (d *Demo) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// Run moves messages between the browsers and the peers until ctx ends.
func (d *Demo) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.fwd.Run(gctx) })
	if d.queue != nil {
		g.Go(func() error { return d.queue.Run(gctx) })
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return nil // asked to stop
	}
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	return nil
}

// Close closes the demo's sockets.
func (d *Demo) Close() {
	for _, s := range []*sockets.Socket{d.xpub, d.xsub, d.router, d.dealer} {
		if s != nil {
			_ = s.Close()
		}
	}
}
