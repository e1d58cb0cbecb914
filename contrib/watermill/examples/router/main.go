// Command router runs a Watermill router over zmqkit: orders arrive on a
// work queue (Competing mode, PUSH → PULL over tcp), a handler processes
// them behind two middlewares, Retry (three attempts) and PoisonQueue,
// and what still fails is published to a poison topic, where a second
// handler reads it.
//
//	go run ./examples/router
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	zmqwatermill "github.com/zmqkit/zmqkit/contrib/watermill"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "router:", err)
		os.Exit(1)
	}
}

// queue is a work queue on its own endpoint: a Publisher that binds a tcp
// port and a Subscriber that connects to it.
type queue struct {
	pub *zmqwatermill.Publisher
	sub *zmqwatermill.Subscriber
}

func newQueue() (*queue, error) {
	pub, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{
		Mode:      zmqwatermill.Competing,
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Bind("tcp://127.0.0.1:0")},
	}, nil)
	if err != nil {
		return nil, err
	}
	sub, err := zmqwatermill.NewSubscriber(zmqwatermill.SubscriberConfig{
		Mode:      zmqwatermill.Competing,
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(pub.Addrs()[0])},
	}, nil)
	if err != nil {
		pub.Close()
		return nil, err
	}
	return &queue{pub: pub, sub: sub}, nil
}

func (q *queue) Close() {
	q.pub.Close()
	q.sub.Close()
}

var errAlways = errors.New("always fails")

func run(ctx context.Context, w io.Writer) error {
	orders, err := newQueue()
	if err != nil {
		return err
	}
	defer orders.Close()
	poison, err := newQueue()
	if err != nil {
		return err
	}
	defer poison.Close()

	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		return err
	}
	defer router.Close()
	toPoison, err := middleware.PoisonQueue(poison.pub, "orders.poison")
	if err != nil {
		return err
	}
	// The first middleware is the outermost: Retry gives up after three
	// attempts, and then PoisonQueue publishes the message and Acks it.
	router.AddMiddleware(toPoison, middleware.Retry{MaxRetries: 2, InitialInterval: 10 * time.Millisecond}.Middleware)

	var mu sync.Mutex
	attempts := map[string]int{}
	router.AddConsumerHandler("process", "orders", orders.sub, func(msg *message.Message) error {
		mu.Lock()
		attempts[msg.UUID]++
		n := attempts[msg.UUID]
		mu.Unlock()
		kind, _, _ := strings.Cut(string(msg.Payload), ":")
		if kind == "bad" || (kind == "flaky" && n == 1) {
			fmt.Fprintf(w, "%s failed (attempt %d)\n", msg.UUID, n)
			if kind == "bad" {
				return errAlways
			}
			return errors.New("try again")
		}
		fmt.Fprintf(w, "processed %s (attempt %d)\n", msg.UUID, n)
		return nil
	})
	poisoned := make(chan struct{})
	router.AddConsumerHandler("dead-letters", "orders.poison", poison.sub, func(msg *message.Message) error {
		fmt.Fprintf(w, "poisoned %s: %s\n", msg.UUID, msg.Metadata.Get(middleware.ReasonForPoisonedKey))
		close(poisoned)
		return nil
	})

	ran := make(chan error, 1)
	go func() { ran <- router.Run(ctx) }()
	select {
	case <-router.Running():
	case err := <-ran:
		return err
	}
	for i, payload := range []string{"ok:book", "flaky:lamp", "bad:chair"} {
		if err := orders.pub.Publish("orders", message.NewMessage(fmt.Sprintf("order-%d", i+1), []byte(payload))); err != nil {
			return err
		}
	}
	select {
	case <-poisoned:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := router.Close(); err != nil {
		return err
	}
	return <-ran
}
