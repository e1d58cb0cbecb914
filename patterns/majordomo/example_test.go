package majordomo_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/zmqkit/zmqkit/patterns/majordomo"
)

// A broker, an "upper" worker and a client in one process: the client
// asks the broker whether the service exists, then uses it.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	broker, err := majordomo.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	ep, err := broker.Bind("tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	brokerDone := make(chan error, 1)
	go func() { brokerDone <- broker.Run(ctx) }()

	worker, err := majordomo.NewWorker(ep, "upper", func(_ context.Context, req [][]byte) ([][]byte, error) {
		return [][]byte{bytes.ToUpper(req[0])}, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(ctx) }()

	client, err := majordomo.NewClient(ep)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	reply, err := client.Send(ctx, "upper", []byte("hello, majordomo"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", reply[0])
	found, _ := client.Send(ctx, majordomo.MMIService, []byte("upper"))
	missing, _ := client.Send(ctx, majordomo.MMIService, []byte("lower"))
	fmt.Printf("upper %s, lower %s\n", found[0], missing[0])

	cancel()
	fmt.Println(<-workerDone, <-brokerDone)
	// Output:
	// HELLO, MAJORDOMO
	// upper 200, lower 404
	// context canceled context canceled
}
