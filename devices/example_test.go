package devices_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

// A streamer joins producers that PUSH to its frontend with workers that
// PULL from its backend; Run moves messages until its context ends.
func ExampleNewStreamer() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	front, err := sockets.NewPull()
	if err != nil {
		panic(err)
	}
	defer front.Close()
	back, err := sockets.NewPush()
	if err != nil {
		panic(err)
	}
	defer back.Close()
	if _, err := front.Listen("inproc://example-streamer-in"); err != nil {
		panic(err)
	}
	if _, err := back.Listen("inproc://example-streamer-out"); err != nil {
		panic(err)
	}
	streamer, err := devices.NewStreamer(front, back)
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- streamer.Run(runCtx) }()

	producer, err := sockets.NewPush()
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	worker, err := sockets.NewPull()
	if err != nil {
		panic(err)
	}
	defer worker.Close()
	if err := producer.Dial("inproc://example-streamer-in"); err != nil {
		panic(err)
	}
	if err := worker.Dial("inproc://example-streamer-out"); err != nil {
		panic(err)
	}
	for _, job := range []string{"a", "b", "c"} {
		if err := producer.Send(ctx, []byte(job)); err != nil {
			panic(err)
		}
	}
	var got []string
	for range 3 {
		frames, err := worker.Recv(ctx)
		if err != nil {
			panic(err)
		}
		got = append(got, string(frames[0]))
	}
	fmt.Println(got)
	stop()
	err = <-ran
	// Once Run has returned, the counters have counted all it moved.
	st := streamer.Stats()
	fmt.Println(errors.Is(err, context.Canceled), st.Frontend.MsgsIn, st.Backend.MsgsOut)
	// Output:
	// [a b c]
	// true 3 3
}
