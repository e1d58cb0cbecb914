package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

var recvTypes = []sockets.Type{sockets.Pull, sockets.Sub, sockets.Rep, sockets.Router, sockets.Dealer, sockets.Pair}

const recvSynopsis = `Usage: zmqkit recv --type pull|sub|rep|router|dealer|pair (--bind EP | --connect EP)... [flags]

Prints each message received as one line on stdout: its frames joined by a
tab, each frame escaped so that the line is unambiguous: \\ for a
backslash, \t tab, \n newline, \r carriage return, and \xNN for every other
byte that is not part of a printable UTF-8 character. 'zmqkit send' reads
this format back from stdin.

ROUTER prints the sender's routing id as the first frame. With --from, two
frames come before the message: who sent it, as the PLAIN user name or the
CURVE client key this side checked (empty otherwise), and the address it
came from (empty for inproc). REP sends each request back as its reply.
SUB subscribes to every --subscribe prefix, or to everything when there is
none.

Runs until --count messages have arrived (0: until SIGINT or SIGTERM, which
end it with status 0).
` + curveHelp

type recvOptions struct {
	typ     sockets.Type
	eps     endpointFlags
	count   int
	subs    []string
	timeout time.Duration
	from    bool
	curve   curveFlags
	sec     []sockets.Option // from curve
}

func parseRecv(args []string, stdout io.Writer) (*recvOptions, error) {
	o := &recvOptions{}
	fs := newFlagSet("recv")
	typ := fs.String("type", "", "socket `type`: pull, sub, rep, router, dealer or pair (required)")
	o.eps.register(fs)
	fs.IntVar(&o.count, "count", 0, "exit after `N` messages (0: never)")
	fs.Func("subscribe", "subscribe to messages whose first frame starts with `prefix` (sub only, repeatable)", func(s string) error {
		o.subs = append(o.subs, s)
		return nil
	})
	fs.DurationVar(&o.timeout, "timeout", 0, "fail when no message comes for this long (0: wait forever);\nalso bounds writing out REP replies at the end")
	fs.BoolVar(&o.from, "from", false, "print the sender's user id and address before each message")
	o.curve.register(fs, "", "the socket", false)
	if err := parseFlags(fs, recvSynopsis, args, stdout); err != nil {
		return nil, err
	}
	t, err := parseType("recv", *typ, recvTypes)
	if err != nil {
		return nil, err
	}
	o.typ = t
	switch {
	case o.count < 0:
		return nil, usagef("--count must not be negative")
	case o.timeout < 0:
		return nil, usagef("--timeout must not be negative")
	case len(o.subs) > 0 && t != sockets.Sub:
		return nil, usagef("--subscribe is for --type sub only")
	}
	if err := o.eps.check(); err != nil {
		return nil, err
	}
	if o.sec, err = o.curve.options(); err != nil {
		return nil, err
	}
	return o, nil
}

func runRecv(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stderr = locked(stderr)
	return report(stderr, "recv", recv(ctx, args, stdout, stderr))
}

func recv(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseRecv(args, stdout)
	if err != nil {
		return err
	}
	warn(stderr, "recv", o.curve.warnings)
	opts := append([]sockets.Option{sockets.WithLinger(lingerFor(o.timeout))}, o.sec...)
	if o.typ == sockets.Sub {
		if len(o.subs) == 0 {
			o.subs = []string{""}
		}
		for _, p := range o.subs {
			opts = append(opts, sockets.WithSubscribe(p))
		}
	}
	s, err := openSocket(o.typ, &o.eps, stderr, opts...)
	if err != nil {
		return err
	}
	defer s.close()
	// Interrupted (SIGINT, SIGTERM): not a failure.
	defer func() {
		if ctx.Err() != nil {
			err = nil
		}
	}()

	// Every server this socket dials refused it: no message can come.
	live, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		select {
		case <-s.refused:
			stop(s.refusal)
		case <-live.Done():
		}
	}()

	var line []byte
	for n := 0; o.count == 0 || n < o.count; n++ {
		rctx, cancel := withTimeout(live, o.timeout)
		m, from, err := s.RecvFrom(rctx)
		cancel()
		if err != nil {
			if cause := context.Cause(live); cause != nil && ctx.Err() == nil {
				return cause
			}
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return fmt.Errorf("no message within %v (%d received)%s", o.timeout, n, s.failure())
			}
			return err
		}
		if o.from {
			line = appendLine(line[:0], append([][]byte{[]byte(from.UserID), []byte(from.Remote)}, m...))
		} else {
			line = appendLine(line[:0], m)
		}
		if _, err := stdout.Write(line); err != nil {
			return fmt.Errorf("writing stdout: %w", err)
		}
		if o.typ == sockets.Rep {
			if err := s.Send(ctx, m...); err != nil {
				return err
			}
		}
	}
	return nil
}
