// Command reliable shows request-reply that survives servers crashing,
// hanging and restarting (patterns/reliable): a Lazy Pirate client whose
// server crashes and comes back on the same endpoint while a call is
// retrying; the same client against a server that never answers, which
// ends in an error after a bounded number of tries, not a hang; and a
// Freelance client over three servers, one down and one hung, that fails
// over to the third.
//
//	go run ./examples/reliable
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/reliable"
	"github.com/zmqkit/zmqkit/sockets"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	if err := lazyPirate(ctx, out); err != nil {
		return err
	}
	return freelance(ctx, out)
}

// server is a REP server that upper-cases requests.
type server struct {
	rep  *sockets.RepOf[string, string]
	addr string
	done chan struct{}
}

func serve(endpoint, name string) (*server, error) {
	rep, err := sockets.NewRepOf(codec.String(), codec.String(), sockets.WithLinger(0))
	if err != nil {
		return nil, err
	}
	addr, err := rep.Listen(endpoint)
	if err != nil {
		rep.Close()
		return nil, err
	}
	s := &server{rep: rep, addr: addr, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = rep.Serve(context.Background(), func(_ context.Context, q string) (string, error) {
			return name + " says " + strings.ToUpper(q), nil
		})
	}()
	return s, nil
}

// crash stops the server as a crash would: its connections drop.
func (s *server) crash() {
	s.rep.Close()
	<-s.done
}

// mute is a server that takes requests and never answers.
func mute() (*sockets.Socket, string, error) {
	r, err := sockets.NewRouter(sockets.WithLinger(0))
	if err != nil {
		return nil, "", err
	}
	addr, err := r.Listen("tcp://127.0.0.1:0")
	if err != nil {
		r.Close()
		return nil, "", err
	}
	go func() {
		for {
			if _, err := r.Recv(context.Background()); err != nil {
				return // closed
			}
		}
	}()
	return r, addr, nil
}

func lazyPirate(ctx context.Context, out io.Writer) error {
	s1, err := serve("tcp://127.0.0.1:0", "server 1")
	if err != nil {
		return err
	}
	var s2 *server
	defer func() {
		if s2 != nil {
			s2.crash()
		}
	}()
	c, err := reliable.NewClient(codec.String(), codec.String(), s1.addr,
		reliable.WithTimeout(250*time.Millisecond), reliable.WithTries(10),
		reliable.WithOnRetry(func(try int, err error) {
			fmt.Fprintf(out, "  try %d lost: %v\n", try, errors.Unwrap(err))
			if s2 == nil { // for the demo: the server comes back now
				var serr error
				if s2, serr = serve(s1.addr, "server 2"); serr != nil {
					log.Fatal(serr)
				}
				fmt.Fprintln(out, "  server 2 starts on the same endpoint")
			}
		}))
	if err != nil {
		s1.crash()
		return err
	}
	defer c.Close()

	call := func(q string) error {
		before := c.Stats().Tries
		r, err := c.Call(ctx, q)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "lazy pirate: %q -> %q (%s)\n", q, r, tries(c.Stats().Tries-before))
		return nil
	}
	if err := call("hello"); err != nil {
		s1.crash()
		return err
	}
	s1.crash()
	fmt.Fprintln(out, "server 1 crashed")
	if err := call("again"); err != nil {
		return err
	}

	deaf, addr, err := mute()
	if err != nil {
		return err
	}
	defer deaf.Close()
	d, err := reliable.NewClient(codec.String(), codec.String(), addr,
		reliable.WithTimeout(100*time.Millisecond), reliable.WithTries(3))
	if err != nil {
		return err
	}
	defer d.Close()
	start := time.Now()
	_, err = d.Call(ctx, "anyone?")
	if !errors.Is(err, reliable.ErrNoReply) {
		return fmt.Errorf("want ErrNoReply, got %v", err)
	}
	fmt.Fprintf(out, "lazy pirate: a server that never answers: gave up after %d tries in %v\n",
		d.Stats().Tries, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func freelance(ctx context.Context, out io.Writer) error {
	// A: nothing listens there. B: hangs. C: answers.
	down, err := serve("tcp://127.0.0.1:0", "A")
	if err != nil {
		return err
	}
	down.crash()
	hung, hungAddr, err := mute()
	if err != nil {
		return err
	}
	defer hung.Close()
	live, err := serve("tcp://127.0.0.1:0", "C")
	if err != nil {
		return err
	}
	defer live.crash()

	fmt.Fprintf(out, "freelance: A %s is down, B %s hangs, C %s answers\n", down.addr, hungAddr, live.addr)
	f, err := reliable.NewFreelance(codec.String(), codec.String(), []string{down.addr, hungAddr, live.addr},
		reliable.WithTimeout(200*time.Millisecond),
		reliable.WithOnRetry(func(try int, err error) {
			fmt.Fprintf(out, "  try %d failed: %v\n", try, err) // it names the server
		}))
	if err != nil {
		return err
	}
	defer f.Close()
	// Let B and C connect, so that the first call meets the hung server.
	for f.Stats().Connected < 2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	for _, q := range []string{"ping", "pong"} {
		before := f.Stats().Tries
		r, err := f.Call(ctx, q)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "freelance: %q -> %q (%s)\n", q, r, tries(f.Stats().Tries-before))
	}
	return nil
}

func tries(n uint64) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}
