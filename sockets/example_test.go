package sockets_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// A PUSH socket hands each message to one PULL peer. Dial may come before
// the peer listens: the message waits in the pipe until it connects.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pull, err := sockets.NewPull()
	if err != nil {
		panic(err)
	}
	defer pull.Close()
	push, err := sockets.NewPush()
	if err != nil {
		panic(err)
	}
	defer push.Close()

	if err := push.Dial("inproc://example-raw"); err != nil {
		panic(err)
	}
	if _, err := pull.Listen("inproc://example-raw"); err != nil {
		panic(err)
	}
	if err := push.Send(ctx, []byte("job"), []byte("42")); err != nil {
		panic(err)
	}
	frames, err := pull.Recv(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d frames: %s %s\n", len(frames), frames[0], frames[1])
	// Output: 2 frames: job 42
}

// TryRecv returns at once; ErrWouldBlock says nothing was queued.
func ExampleSocket_TryRecv() {
	pull, err := sockets.NewPull()
	if err != nil {
		panic(err)
	}
	defer pull.Close()
	_, err = pull.TryRecv()
	fmt.Println(errors.Is(err, sockets.ErrWouldBlock))
	fmt.Println(err)
	// Output:
	// true
	// zmqkit: pull recv: operation would block
}

// Errors are *OpError values: test the cause with errors.Is, and read the
// operation and endpoint with errors.As.
func ExampleOpError() {
	push, err := sockets.NewPush()
	if err != nil {
		panic(err)
	}
	defer push.Close()
	err = push.Dial("carrier-pigeon://loft")
	var oe *sockets.OpError
	if errors.As(err, &oe) {
		fmt.Println(oe.Op, oe.Socket, oe.Endpoint, errors.Is(err, sockets.ErrBadEndpoint))
	}
	// Output: dial PUSH carrier-pigeon://loft true
}

type task struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// PushOf and PullOf carry Go values through a codec.
func ExamplePushOf() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pull, err := sockets.NewPullOf(codec.JSON[task]())
	if err != nil {
		panic(err)
	}
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	push, err := sockets.NewPushOf(codec.JSON[task]())
	if err != nil {
		panic(err)
	}
	defer push.Close()
	if err := push.Dial(addr); err != nil {
		panic(err)
	}
	for i := 1; i <= 2; i++ {
		if err := push.Send(ctx, task{ID: i, Name: fmt.Sprint("task-", i)}); err != nil {
			panic(err)
		}
	}
	for range 2 {
		t, err := pull.Recv(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%d %s\n", t.ID, t.Name)
	}
	// Output:
	// 1 task-1
	// 2 task-2
}

// ReqOf calls, RepOf serves: a handler's error comes back as an error
// matching ErrRemote.
func ExampleReqOf() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	rep, err := sockets.NewRepOf(codec.String(), codec.String())
	if err != nil {
		panic(err)
	}
	defer rep.Close()
	if _, err := rep.Listen("inproc://example-rpc"); err != nil {
		panic(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- rep.Serve(ctx, func(_ context.Context, q string) (string, error) {
			if q == "" {
				return "", errors.New("empty name")
			}
			return "hello, " + q, nil
		})
	}()

	req, err := sockets.NewReqOf(codec.String(), codec.String())
	if err != nil {
		panic(err)
	}
	defer req.Close()
	if err := req.Dial("inproc://example-rpc"); err != nil {
		panic(err)
	}
	r, err := req.Call(ctx, "world")
	fmt.Println(r, err)
	_, err = req.Call(ctx, "")
	fmt.Println(errors.Is(err, sockets.ErrRemote), err)

	rep.Close()
	fmt.Println(errors.Is(<-served, sockets.ErrClosed))
	// Output:
	// hello, world <nil>
	// true zmqkit: req call: remote: empty name
	// true
}

// A SubOf receives what a PubOf publishes under the topics it subscribed
// to. A subscription takes a moment to reach the publisher, and until then
// a PUB drops: this publisher repeats itself until the subscriber hears.
func ExamplePubOf() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pub, err := sockets.NewPubOf(codec.JSON[float64]())
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	addr, err := pub.Listen("tcp://127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	sub, err := sockets.NewSubOf(codec.JSON[float64]())
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	if err := sub.Subscribe("temp."); err != nil {
		panic(err)
	}
	if err := sub.Dial(addr); err != nil {
		panic(err)
	}

	got := make(chan sockets.Published[float64], 1)
	go func() {
		p, err := sub.Recv(ctx)
		if err == nil {
			got <- p
		}
		close(got)
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		_ = pub.Publish(ctx, "wind.paris", 12) // not subscribed: never seen
		_ = pub.Publish(ctx, "temp.paris", 21.5)
		select {
		case p := <-got:
			fmt.Println(p.Topic, p.Value, strings.HasPrefix(p.Topic, "temp."))
			return
		case <-tick.C:
		}
	}
	// Output: temp.paris 21.5 true
}
