package sockets_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// A socket served on a path of an HTTP server of your own, beside its API:
// peers (zmqkit sockets, zmqkit.js in a browser, libzmq's ws transport)
// reach it at ws://host:port/path.
func ExampleSocket_Handler() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pull, err := sockets.NewPull()
	if err != nil {
		panic(err)
	}
	defer pull.Close()
	h, _, err := pull.Handler(sockets.WithMaxPeers(100))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/zmq", h)
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	push, err := sockets.NewPush()
	if err != nil {
		panic(err)
	}
	defer push.Close()
	if err := push.Dial("ws" + strings.TrimPrefix(srv.URL, "http") + "/zmq"); err != nil {
		panic(err)
	}
	if err := push.Send(ctx, []byte("over a WebSocket")); err != nil {
		panic(err)
	}
	m, err := pull.Recv(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(m[0]))
	// Output: over a WebSocket
}
