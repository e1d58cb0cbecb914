package rpc_test

import (
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
