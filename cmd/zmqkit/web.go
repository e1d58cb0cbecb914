package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
	"github.com/zmqkit/zmqkit/web"
)

const webSynopsis = `Usage: zmqkit web --sub ENDPOINT[,ENDPOINT...] [--rpc ENDPOINT] [--listen HOST:PORT] [--max-peers N]

Serves zmqkit in the browser: a page that shows the messages of the
publishers at --sub live, with a msgs/s plot, and sends requests to the REP
(or ROUTER) at --rpc. The page, zmqkit.js (the JavaScript client: SUB, REQ,
DEALER over ZWS 2.0) and the page's WebSocket endpoints are all on --listen
(default 127.0.0.1:8080):

  /         the demo page (?topic=T subscribes to T only; ?sub=ws://… and
            ?req=ws://… point it at other ZWS endpoints instead)
  /zmqkit.js
  /events   an XPUB forwarding what --sub publishes (subscriptions travel
            up to the publishers)
  /rpc      a ROUTER queueing requests to --rpc

Only pages of this server's own origin may open /events and /rpc. Each
accepts at most --max-peers WebSocket peers at once (default 1000).

  while sleep 0.1; do date; done |
      zmqkit send --type pub --bind tcp://127.0.0.1:5556 &
  zmqkit recv --type rep --bind tcp://127.0.0.1:5557 &   # echoes requests
  zmqkit web --sub tcp://127.0.0.1:5556 --rpc tcp://127.0.0.1:5557
  # then open http://127.0.0.1:8080/
`

func runWeb(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	stderr = locked(stderr)
	return report(stderr, "web", serveWeb(ctx, args, stdout, stderr))
}

func serveWeb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("web")
	listen := fs.String("listen", "127.0.0.1:8080", "HOST:PORT to serve the page and its WebSocket endpoints on")
	sub := fs.String("sub", "", "publisher endpoints to subscribe to, comma-separated (connected)")
	rpc := fs.String("rpc", "", "REP or ROUTER endpoint that answers the page's requests (connected)")
	maxPeers := fs.Int("max-peers", 1000, "WebSocket peers served at once on /events and on /rpc")
	if err := parseFlags(fs, webSynopsis, args, stdout); err != nil {
		return err
	}
	if *sub == "" {
		return usagef("--sub is required")
	}
	if *maxPeers < 1 {
		return usagef("--max-peers %d < 1", *maxPeers)
	}
	d, err := web.NewDemo(splitList(*sub), *rpc, sockets.WithMaxPeers(*maxPeers))
	if err != nil {
		return err
	}
	defer d.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "listening http://%s/\n", ln.Addr())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	select {
	case err = <-served:
	case err = <-ran:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	d.Close()
	if errors.Is(err, http.ErrServerClosed) || ctx.Err() != nil {
		return nil
	}
	return err
}
