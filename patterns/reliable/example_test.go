package reliable_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/reliable"
	"github.com/zmqkit/zmqkit/sockets"
)

// A Lazy Pirate client in front of an ordinary REP server.
func ExampleClient() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, _ := sockets.NewRepOf(codec.String(), codec.String())
	defer srv.Close()
	addr, _ := srv.Listen("inproc://example-lazy-pirate")
	go srv.Serve(ctx, func(_ context.Context, q string) (string, error) { return strings.ToUpper(q), nil })

	c, err := reliable.NewClient(codec.String(), codec.String(), addr,
		reliable.WithTimeout(time.Second), // per try
		reliable.WithTries(3))             // then ErrNoReply
	if err != nil {
		panic(err)
	}
	defer c.Close()
	r, err := c.Call(ctx, "hello")
	if errors.Is(err, reliable.ErrNoReply) {
		fmt.Println("server down:", err)
		return
	}
	fmt.Println(r, err)
	// Output: HELLO <nil>
}

// A Freelance client over two servers, the first of them down.
func ExampleFreelance() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, _ := sockets.NewRepOf(codec.String(), codec.String())
	defer srv.Close()
	addr, _ := srv.Listen("inproc://example-freelance")
	go srv.Serve(ctx, func(_ context.Context, q string) (string, error) { return "pong to " + q, nil })

	f, err := reliable.NewFreelance(codec.String(), codec.String(),
		[]string{"inproc://example-freelance-down", addr}, reliable.WithTimeout(time.Second))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	r, err := f.Call(ctx, "ping")
	fmt.Println(r, err, f.Stats().Tries)
	// Output: pong to ping <nil> 1
}

// A Lazy Pirate client on multipart messages, with no codec, in front of
// a REP server that answers each frame upper-cased.
func ExampleNewRawClient() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, _ := sockets.NewRep()
	defer srv.Close()
	addr, _ := srv.Listen("inproc://example-raw-client")
	served := make(chan struct{})
	go func() {
		defer close(served)
		frames, err := srv.Recv(ctx)
		if err != nil {
			return
		}
		for i, f := range frames {
			frames[i] = bytes.ToUpper(f)
		}
		srv.Send(ctx, frames...)
	}()

	c, err := reliable.NewRawClient(addr, reliable.WithTimeout(time.Second), reliable.WithTries(3))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	reply, err := c.Call(ctx, [][]byte{[]byte("hello"), []byte("world")})
	fmt.Printf("%q %v\n", reply, err)
	<-served
	// Output: ["HELLO" "WORLD"] <nil>
}
