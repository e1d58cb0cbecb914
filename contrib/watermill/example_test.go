package zmqwatermill_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	zmqwatermill "github.com/zmqkit/zmqkit/contrib/watermill"
)

// A FanOut Publisher binds a tcp port; a Subscriber connects to it. When
// Subscribe returns, the Publisher has the subscription, so the message
// published right after it arrives.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pub, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{
		Mode:      zmqwatermill.FanOut,
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Bind("tcp://127.0.0.1:0")},
	}, watermill.NopLogger{})
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	sub, err := zmqwatermill.NewSubscriber(zmqwatermill.SubscriberConfig{
		Mode:      zmqwatermill.FanOut,
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(pub.Addrs()[0])},
	}, watermill.NopLogger{})
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	msgs, err := sub.Subscribe(ctx, "greetings")
	if err != nil {
		panic(err)
	}
	msg := message.NewMessage(watermill.NewUUID(), []byte("hello"))
	msg.Metadata.Set("lang", "en")
	if err := pub.Publish("greetings", msg); err != nil {
		panic(err)
	}
	got := <-msgs
	fmt.Println(string(got.Payload), got.Metadata.Get("lang"), got.UUID == msg.UUID)
	got.Ack()
	// Output: hello en true
}

// A Device lets Publishers and Subscribers meet without knowing each
// other: Publishers connect to its frontend, Subscribers to its backend.
// In Competing mode each message goes to one Subscriber.
func ExampleNewDevice() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	dev, err := zmqwatermill.NewDevice(zmqwatermill.DeviceConfig{
		Mode:     zmqwatermill.Competing,
		Frontend: "tcp://127.0.0.1:0",
		Backend:  "tcp://127.0.0.1:0",
	})
	if err != nil {
		panic(err)
	}
	defer dev.Close()
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- dev.Run(runCtx) }()
	defer func() { stop(); <-ran }()

	pub, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{
		Mode:      zmqwatermill.Competing,
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(dev.Frontend())},
	}, nil)
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	worker, err := zmqwatermill.NewSubscriber(zmqwatermill.SubscriberConfig{
		Mode:      zmqwatermill.Competing,
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(dev.Backend())},
	}, nil)
	if err != nil {
		panic(err)
	}
	defer worker.Close()

	jobs, err := worker.Subscribe(ctx, "jobs")
	if err != nil {
		panic(err)
	}
	for _, job := range []string{"resize", "upload"} {
		if err := pub.Publish("jobs", message.NewMessage(watermill.NewUUID(), []byte(job))); err != nil {
			panic(err)
		}
	}
	for range 2 {
		m := <-jobs
		fmt.Println(string(m.Payload))
		m.Ack()
	}
	// Output:
	// resize
	// upload
}
