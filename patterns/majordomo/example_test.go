package majordomo_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/zmqkit/zmqkit/patterns/majordomo"
)

// A broker, an "upper" worker and a client in one process: the client
// asks the broker whether the service exists, then uses it.
//
// Options are typed by role. The heartbeat is a BrokerWorkerOption: broker
// and workers take it, and must agree on it. WithRequestTTL is a
// BrokerOption, WithIdentity a WorkerOption, WithRetry a ClientOption;
// majordomo.NewClient(ep, heartbeat) would not compile.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	heartbeat := majordomo.WithHeartbeat(time.Second, 3)
	broker, err := majordomo.NewBroker(heartbeat, majordomo.WithRequestTTL(5*time.Second))
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
	}, heartbeat, majordomo.WithIdentity("upper-1"))
	if err != nil {
		log.Fatal(err)
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(ctx) }()

	client, err := majordomo.NewClient(ep, majordomo.WithRetry(2*time.Second, 3))
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
