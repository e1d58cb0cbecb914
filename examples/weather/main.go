// Command weather is the ZeroMQ guide's weather updates in Go: a typed
// publisher sends readings for random zip codes, with the zip code as the
// topic; a subscriber asks only for one zip code and averages what it gets.
//
//	go run ./examples/weather [-zip 10001] [-n 20]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// Reading is one weather update.
type Reading struct {
	Zip         string  `json:"zip"`
	Temperature float64 `json:"temperature"`
	Humidity    float64 `json:"humidity"`
}

func main() {
	zip := flag.String("zip", "10001", "zip code to follow")
	n := flag.Int("n", 20, "updates to average")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *zip, *n); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer, zip string, n int) error {
	pub, err := sockets.NewPubOf(codec.JSON[Reading]())
	if err != nil {
		return err
	}
	defer pub.Close()
	addr, err := pub.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	sub, err := sockets.NewSubOf(codec.JSON[Reading](), sockets.WithSubscribe(zip))
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := sub.Dial(addr); err != nil {
		return err
	}

	// The publisher runs until the subscriber has what it wants.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	published := make(chan error, 1)
	go func() {
		zips := []string{zip, "10002", "94103", "75001", "10001" + "9"}
		for i := 0; ; i++ {
			r := Reading{Zip: zips[rand.IntN(len(zips))], Temperature: 10 + 20*rand.Float64(), Humidity: 30 + 50*rand.Float64()}
			if err := pub.Publish(pctx, r.Zip, r); err != nil {
				published <- err
				return
			}
			if i%100 == 99 { // yield now and then, as a real sensor feed would
				select {
				case <-pctx.Done():
					published <- nil
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
	}()

	var sum float64
	for i := 0; i < n; i++ {
		m, err := sub.Recv(ctx)
		if err != nil {
			return err
		}
		if m.Topic != m.Value.Zip || m.Topic[:len(zip)] != zip {
			return fmt.Errorf("got topic %q for zip %q", m.Topic, m.Value.Zip)
		}
		sum += m.Value.Temperature
	}
	stop()
	pub.Close()
	<-published
	fmt.Fprintf(out, "average temperature for zip prefix %s over %d updates: %.1f°C\n", zip, n, sum/float64(n))
	return nil
}
