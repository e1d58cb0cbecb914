package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/rpc"
)

func ExampleMethod() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type pair struct{ A, B int }
	sum := rpc.NewMethod("sum", codec.JSON[pair](), codec.JSON[int]())
	errNegative := rpc.NewError(rpc.CodeUser, "negative operand")

	server, _ := rpc.NewServer()
	defer server.Close()
	rpc.Handle(server, sum, func(_ context.Context, p pair) (int, error) {
		if p.A < 0 || p.B < 0 {
			return 0, errNegative
		}
		return p.A + p.B, nil
	})
	addr, _ := server.Listen("inproc://example-method")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	defer func() { stop(); <-done }()
	go func() { done <- server.Run(runCtx) }()

	client, _ := rpc.NewClient()
	defer client.Close()
	client.Dial(addr)

	n, err := sum.Call(ctx, client, pair{40, 2})
	fmt.Println(n, err)
	_, err = sum.Call(ctx, client, pair{-1, 2})
	fmt.Println(errors.Is(err, errNegative), errors.Is(err, rpc.ErrRemote))
	// Output:
	// 42 <nil>
	// true true
}

// A server and a client on raw bytes. Options are typed by role:
// WithWorkers is a ServerOption, WithFailOnDisconnect a ClientOption, and
// WithSocketOptions an Option both take.
func ExampleNewServer() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	server, _ := rpc.NewServer(rpc.WithWorkers(4))
	defer server.Close()
	server.Handle("upper", func(_ context.Context, b []byte) ([]byte, error) {
		return bytes.ToUpper(b), nil
	})
	addr, _ := server.Listen("inproc://example-new-server")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	defer func() { stop(); <-done }()
	go func() { done <- server.Run(runCtx) }()

	client, _ := rpc.NewClient(rpc.WithFailOnDisconnect(true))
	defer client.Close()
	client.Dial(addr)
	reply, err := client.Call(ctx, "upper", []byte("hello"))
	fmt.Printf("%s %v\n", reply, err)
	// Output: HELLO <nil>
}
