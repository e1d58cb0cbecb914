// Command rpc shows typed request/reply with package patterns/rpc: an
// inventory service with two methods, declared once for both sides; one
// client socket with many calls in flight; a handler's error coming back
// as an error the caller can test; and a deadline that travels to the
// server and stops the handler when the caller stops waiting.
//
//	go run ./examples/rpc [-calls 200] [-workers 8]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/rpc"
)

// Reserve asks for Qty units of Item.
type Reserve struct {
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

// Reserved is the answer: what is left.
type Reserved struct {
	Item string `json:"item"`
	Left int    `json:"left"`
}

// The service's methods, shared by client and server.
var (
	reserve = rpc.NewMethod("inventory.reserve", codec.JSON[Reserve](), codec.JSON[Reserved]())
	audit   = rpc.NewMethod("inventory.audit", codec.String(), codec.String())
)

// ErrOutOfStock is an application error with its own code: the caller
// tests for it with errors.Is.
var ErrOutOfStock = rpc.NewError(rpc.CodeUser+1, "out of stock")

func main() {
	calls := flag.Int("calls", 200, "concurrent reservations")
	workers := flag.Int("workers", 8, "server workers")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *calls, *workers); err != nil {
		log.Fatal(err)
	}
}

// inventory is the server's state.
type inventory struct {
	mu    sync.Mutex
	stock map[string]int
}

func (inv *inventory) reserve(_ context.Context, q Reserve) (Reserved, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.stock[q.Item] < q.Qty {
		return Reserved{}, ErrOutOfStock
	}
	inv.stock[q.Item] -= q.Qty
	return Reserved{Item: q.Item, Left: inv.stock[q.Item]}, nil
}

func run(ctx context.Context, out io.Writer, calls, workers int) error {
	inv := &inventory{stock: map[string]int{"widget": calls / 2, "gadget": calls}}
	server, err := rpc.NewServer(rpc.WithWorkers(workers))
	if err != nil {
		return err
	}
	defer server.Close()
	rpc.Handle(server, reserve, inv.reserve)
	auditSaw := make(chan string, 1)
	rpc.Handle(server, audit, func(ctx context.Context, item string) (string, error) {
		// A slow job: it runs until the caller's deadline stops it.
		dl, _ := ctx.Deadline()
		left := time.Until(dl).Round(10 * time.Millisecond)
		<-ctx.Done()
		auditSaw <- fmt.Sprintf("audit handler: deadline %v away when it started, stopped by %v", left, ctx.Err())
		return "", ctx.Err()
	})
	addr, err := server.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- server.Run(runCtx) }()
	shutdown := sync.OnceValue(func() error { stop(); return <-served })
	defer shutdown()

	client, err := rpc.NewClient()
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Dial(addr); err != nil {
		return err
	}

	// Many calls in flight on one socket: half of them ask for widgets,
	// of which there are only enough for half of those.
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, outOfStock := 0, 0
	var other error
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			item := "gadget"
			if i%2 == 0 {
				item = "widget"
			}
			_, err := reserve.Call(ctx, client, Reserve{Item: item, Qty: 2 - i%2})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrOutOfStock):
				outOfStock++
			default:
				other = err
			}
		}()
	}
	wg.Wait()
	if other != nil {
		return other
	}
	fmt.Fprintf(out, "%d concurrent calls on one socket in %v: %d reserved, %d out of stock\n",
		calls, time.Since(start).Round(time.Millisecond), ok, outOfStock)

	var re *rpc.RemoteError
	_, err = reserve.Call(ctx, client, Reserve{Item: "widget", Qty: 1})
	if errors.As(err, &re) {
		fmt.Fprintf(out, "error from the handler: %v (code %d, errors.Is ErrOutOfStock: %v)\n",
			err, re.Code, errors.Is(err, ErrOutOfStock))
	}
	_, err = client.Call(ctx, "inventory.restock", nil)
	fmt.Fprintf(out, "unknown method: %v (errors.Is ErrNoMethod: %v)\n", err, errors.Is(err, rpc.ErrNoMethod))

	// The deadline travels with the call.
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = audit.Call(dctx, client, "widget")
	fmt.Fprintf(out, "audit call: %v after %v\n", err, time.Since(start).Round(10*time.Millisecond))
	select {
	case s := <-auditSaw:
		fmt.Fprintln(out, s)
	case <-ctx.Done():
		return ctx.Err()
	}
	// Run returns once every handler has, so the counts are final.
	if err := shutdown(); !errors.Is(err, context.Canceled) {
		return err
	}
	st := server.Stats()
	fmt.Fprintf(out, "server: %d requests, %d replies, %d errors\n", st.Requests, st.Replies, st.Errors)
	return nil
}
