package pirate_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/zmqkit/zmqkit/patterns/pirate"
)

// A broker, one worker and a client in one process.
//
// Options are typed by role. The heartbeat is a BrokerWorkerOption: broker
// and workers take it, and must agree on it. WithMaxQueue is a
// BrokerOption, WithReconnect a WorkerOption, WithRetry a ClientOption;
// pirate.NewClient(front, heartbeat) would not compile.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	heartbeat := pirate.WithHeartbeat(time.Second, 3)
	broker, err := pirate.NewBroker(heartbeat, pirate.WithMaxQueue(100))
	if err != nil {
		log.Fatal(err)
	}
	front, err := broker.BindFrontend("tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	back, err := broker.BindBackend("tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	brokerDone := make(chan error, 1)
	go func() { brokerDone <- broker.Run(ctx) }()

	worker, err := pirate.NewWorker(back, func(_ context.Context, req [][]byte) ([][]byte, error) {
		return [][]byte{bytes.ToUpper(req[0])}, nil
	}, heartbeat, pirate.WithReconnect(time.Second, 10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(ctx) }()

	client, err := pirate.NewClient(front, pirate.WithRetry(2*time.Second, 3))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	reply, err := client.Request(ctx, []byte("hello, pirate"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", reply[0])

	cancel()
	fmt.Println(<-workerDone, <-brokerDone)
	// Output:
	// HELLO, PIRATE
	// context canceled context canceled
}
