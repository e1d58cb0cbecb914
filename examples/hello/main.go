// Command hello is typed REQ/REP over tcp: a server and a client in one
// program. The server answers a Greeting with a Reply; a request it cannot
// serve comes back to the client as an error, not a hang.
//
//	go run ./examples/hello
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// Greeting is the request.
type Greeting struct {
	Name string `json:"name"`
}

// Reply is the answer.
type Reply struct {
	Text string `json:"text"`
	At   string `json:"at"`
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	server, err := sockets.NewRepOf(codec.JSON[Greeting](), codec.JSON[Reply]())
	if err != nil {
		return err
	}
	defer server.Close()
	addr, err := server.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, func(_ context.Context, g Greeting) (Reply, error) {
			if g.Name == "" {
				return Reply{}, fmt.Errorf("a greeting needs a name")
			}
			return Reply{Text: "hello, " + g.Name, At: addr}, nil
		})
	}()

	client, err := sockets.NewReqOf(codec.JSON[Greeting](), codec.JSON[Reply]())
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Dial(addr); err != nil {
		return err
	}
	for _, name := range []string{"world", "gopher", ""} {
		r, err := client.Call(ctx, Greeting{Name: name})
		if err != nil {
			fmt.Fprintf(out, "request %q failed: %v\n", name, err)
			continue
		}
		fmt.Fprintf(out, "%s\n", r.Text)
	}
	server.Close()
	<-served
	return nil
}
