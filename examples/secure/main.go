// Command secure is CURVE with authorization: a server that knows its
// clients by their keys. One program plays every part.
//
//   - The desk (a typed REP) answers each caller by name: the handler finds
//     who asks with sockets.PeerFromContext, whose UserID is the caller's
//     CURVE key as the handshake proved it.
//
//   - The feed (a PUB) lets each client subscribe only under its own name:
//     WithSubscriptionFilter refuses the rest, so alice asking for bob's
//     topic gets nothing of it.
//
//   - A client whose key is not on the list does not get in at all.
//
//     go run ./examples/secure
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
	"github.com/zmqkit/zmqkit/sockets"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// user is a client: a name and a CURVE key pair.
type user struct {
	name string
	keys sockets.CurveKeypair
}

func run(ctx context.Context, out io.Writer) error {
	server, err := sockets.NewCurveKeypair()
	if err != nil {
		return err
	}
	var alice, bob, mallory user
	for u, name := range map[*user]string{&alice: "alice", &bob: "bob", &mallory: "mallory"} {
		u.name = name
		if u.keys, err = sockets.NewCurveKeypair(); err != nil {
			return err
		}
	}
	// The server's list: CURVE public key (Z85, as UserID has it) -> name.
	// mallory is not on it.
	users := map[string]string{
		sockets.CurveKey(alice.keys.Public): "alice",
		sockets.CurveKey(bob.keys.Public):   "bob",
	}
	known := func(k [32]byte) bool { _, ok := users[sockets.CurveKey(k)]; return ok }

	// The desk answers by name.
	desk, err := sockets.NewRepOf(codec.String(), codec.String(), sockets.WithCurveServer(server, known))
	if err != nil {
		return err
	}
	defer desk.Close()
	deskAddr, err := desk.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- desk.Serve(sctx, func(ctx context.Context, q string) (string, error) {
			p, _ := sockets.PeerFromContext(ctx)
			return fmt.Sprintf("%s, %s", q, users[p.UserID]), nil
		})
	}()
	defer func() { stop(); <-served }()

	// The feed: each user may subscribe under its own name only.
	feed, err := sockets.NewPub(sockets.WithCurveServer(server, known),
		sockets.WithSubscriptionFilter(func(p sockets.Peer, topic []byte) bool {
			return strings.HasPrefix(string(topic), users[p.UserID]+".")
		}))
	if err != nil {
		return err
	}
	defer feed.Close()
	feedAddr, err := feed.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}

	for _, u := range []user{alice, bob} {
		req, err := sockets.NewReqOf(codec.String(), codec.String(), sockets.WithCurve(server.Public, u.keys))
		if err != nil {
			return err
		}
		defer req.Close()
		if err := req.Dial(deskAddr); err != nil {
			return err
		}
		reply, err := req.Call(ctx, "good morning")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s asked the desk: %q\n", u.name, reply)
	}

	// alice asks for her own topic and for bob's; only hers is admitted.
	sub, err := sockets.NewSub(sockets.WithCurve(server.Public, alice.keys),
		sockets.WithSubscribe("alice."), sockets.WithSubscribe("bob."))
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := sub.Dial(feedAddr); err != nil {
		return err
	}
	for feed.Stats().SubscriptionsRefused == 0 { // bob. was turned down
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return fmt.Errorf("the feed never saw alice's subscriptions: %w", err)
		}
	}
	for {
		// Publish until alice's own subscription has arrived too.
		if err := feed.Send(ctx, []byte("bob.news"), []byte("for bob")); err != nil {
			return err
		}
		if err := feed.Send(ctx, []byte("alice.news"), []byte("for alice")); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		m, err := sub.Recv(rctx)
		cancel()
		if err == nil {
			fmt.Fprintf(out, "alice received %s: %s\n", m[0], m[1])
			break
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	fmt.Fprintf(out, "the feed refused %d subscription (alice's bob.)\n", feed.Stats().SubscriptionsRefused)

	// mallory's key is not on the list: the handshake fails.
	intruder, err := sockets.NewReq(sockets.WithCurve(server.Public, mallory.keys))
	if err != nil {
		return err
	}
	defer intruder.Close()
	if err := intruder.Dial(deskAddr); err != nil {
		return err
	}
	for {
		select {
		case ev := <-intruder.Events():
			if ev.Kind == sockets.EventHandshakeFailed {
				fmt.Fprintf(out, "mallory was turned away: %v\n", errors.Is(ev.Err, sockets.ErrAuth))
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("mallory's handshake never failed: %w", ctx.Err())
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
