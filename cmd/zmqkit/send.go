package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

var sendTypes = []sockets.Type{sockets.Push, sockets.Pub, sockets.Req, sockets.Dealer, sockets.Pair}

const sendSynopsis = `Usage: zmqkit send --type push|pub|req|dealer|pair (--bind EP | --connect EP)... [flags]

Sends --count generated messages, or else one message per line of stdin.

A generated message is --size bytes: its number (1, 2, ...) in decimal, a
space, then 'x' up to the size ("3 xxxxxxxxxxxxxx" for --size 16); a size
shorter than the number cuts it.

A stdin line is one message; tabs separate its frames, and the escapes that
'zmqkit recv' prints (\\ \t \n \r \xNN) are decoded, so the output of recv
can be sent again as it was received. Any other backslash is kept as is. An
empty line is a message of one empty frame.

With --type pub and --topic T every message gets a first frame T (the topic
a subscriber matches), then the payload frame(s).

REQ prints each reply on stdout, in the format of 'zmqkit recv'.

Slow joiners: before the first message, send waits (at most --timeout) for a
peer to connect; for --type pub it waits instead for a subscriber's first
subscription to arrive, then 100ms more for its other subscriptions (and
subscribers connecting with it), so that subscriber gets every message. (For
that, pub runs an XPUB socket, which sees subscriptions; peers see no
difference.) Later subscribers may miss the first messages, and PUB drops
what a subscriber cannot take in time (over its high-water mark of 1000
queued messages): send then ends with a warning on stderr, status 0.

--timeout bounds each wait: for that first peer, for each message to be
taken when peers are at their high-water mark, for each REQ reply, and for
queued messages to be written out at the end.
` + curveHelp

// pubSettle is how long PUB waits after the first subscription arrives,
// for the rest to arrive too.
const pubSettle = 100 * time.Millisecond

type sendOptions struct {
	typ     sockets.Type
	eps     endpointFlags
	count   int // 0: read stdin
	size    int
	topic   []byte // nil: none
	timeout time.Duration
	curve   curveFlags
	sec     []sockets.Option // from curve
}

func parseSend(args []string, stdout io.Writer) (*sendOptions, error) {
	o := &sendOptions{}
	fs := newFlagSet("send")
	typ := fs.String("type", "", "socket `type`: push, pub, req, dealer or pair (required)")
	o.eps.register(fs)
	fs.IntVar(&o.count, "count", 0, "send `N` generated messages instead of reading stdin")
	fs.IntVar(&o.size, "size", 128, "size in `bytes` of each generated message (with --count)")
	topic := fs.String("topic", "", "first frame of every message, for subscribers to match (pub only)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on each wait (0: no limit)")
	o.curve.register(fs, "", "the socket", false)
	if err := parseFlags(fs, sendSynopsis, args, stdout); err != nil {
		return nil, err
	}
	t, err := parseType("send", *typ, sendTypes)
	if err != nil {
		return nil, err
	}
	o.typ = t
	switch {
	case flagSet(fs, "count") && o.count < 1:
		return nil, usagef("--count must be at least 1 (without it, stdin lines are sent)")
	case flagSet(fs, "size") && !flagSet(fs, "count"):
		return nil, usagef("--size needs --count (stdin lines are sent as they are)")
	case o.size < 0:
		return nil, usagef("--size must not be negative")
	case o.timeout < 0:
		return nil, usagef("--timeout must not be negative")
	case flagSet(fs, "topic") && t != sockets.Pub:
		return nil, usagef("--topic is for --type pub only")
	}
	if flagSet(fs, "topic") {
		o.topic = []byte(*topic)
	}
	if err := o.eps.check(); err != nil {
		return nil, err
	}
	if o.sec, err = o.curve.options(); err != nil {
		return nil, err
	}
	return o, nil
}

func runSend(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stderr = locked(stderr)
	return report(stderr, "send", send(ctx, args, stdin, stdout, stderr))
}

func send(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	o, err := parseSend(args, stdout)
	if err != nil {
		return err
	}
	warn(stderr, "send", o.curve.warnings)
	t := o.typ
	if t == sockets.Pub {
		t = sockets.XPub // to see subscriptions arrive; see sendSynopsis
	}
	s, err := openSocket(t, &o.eps, stderr, append([]sockets.Option{sockets.WithLinger(lingerFor(o.timeout))}, o.sec...)...)
	if err != nil {
		return err
	}
	ready, waitingFor := (<-chan struct{})(s.connected), "peer connected"
	var subsDone chan struct{}
	if o.typ == sockets.Pub {
		var first chan struct{}
		first, subsDone = watchSubscriptions(s, o.eps.verbose, stderr)
		ready, waitingFor = first, "subscriber"
	}
	defer func() {
		s.close()
		if subsDone != nil {
			<-subsDone
		}
	}()
	// Interrupted (SIGINT, SIGTERM): not a failure.
	defer func() {
		if ctx.Err() != nil {
			err = nil
		}
	}()

	var next func() ([][]byte, error)
	if o.count > 0 {
		i := 0
		next = func() ([][]byte, error) {
			if i == o.count {
				return nil, io.EOF
			}
			i++
			return [][]byte{payload(i, o.size)}, nil
		}
	} else {
		lines := readLines(stdin)
		defer lines.stop()
		next = func() ([][]byte, error) {
			line, err := lines.next(ctx)
			if err != nil {
				return nil, err
			}
			return parseLine(line), nil
		}
	}

	var out []byte
	for n := 1; ; n++ {
		frames, err := next()
		if errors.Is(err, io.EOF) {
			if d := s.Stats().Dropped; d > 0 {
				fmt.Fprintf(stderr, "zmqkit send: warning: %d message copies dropped at subscribers over their high-water mark (PUB does not wait)\n", d)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if n == 1 {
			if err := s.waitFor(ctx, ready, o.timeout); err != nil {
				if errors.Is(err, errTimeout) {
					return fmt.Errorf("no %s within %v%s", waitingFor, o.timeout, s.failure())
				}
				return err
			}
			if o.typ == sockets.Pub {
				// The subscriber's other subscriptions, and other
				// subscribers connecting with it, are a moment behind.
				t := time.NewTimer(pubSettle)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				}
			}
		}
		if o.topic != nil {
			frames = append([][]byte{o.topic}, frames...)
		}
		sctx, cancel := withTimeout(ctx, o.timeout)
		err = s.Send(sctx, frames...)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("message %d not taken within %v (no peer, or peers not reading)", n, o.timeout)
			}
			return err
		}
		if o.typ != sockets.Req {
			continue
		}
		rctx, cancel := withTimeout(ctx, o.timeout)
		reply, err := s.Recv(rctx)
		cancel()
		if err != nil {
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				return fmt.Errorf("no reply to message %d within %v", n, o.timeout)
			case errors.Is(err, sockets.ErrRequestLost):
				return fmt.Errorf("no reply to message %d: the peer's connection ended before it answered", n)
			}
			return err
		}
		out = appendLine(out[:0], reply)
		if _, err := stdout.Write(out); err != nil {
			return fmt.Errorf("writing stdout: %w", err)
		}
	}
}

// payload is generated message i: see sendSynopsis.
func payload(i, size int) []byte {
	b := make([]byte, size)
	n := copy(b, strconv.Itoa(i))
	if n < size {
		b[n] = ' '
		for k := n + 1; k < size; k++ {
			b[k] = 'x'
		}
	}
	return b
}

// watchSubscriptions reads the subscriptions that reach an XPUB socket
// (standing in for PUB), printing them with --verbose. first is closed at
// the first subscription, done once the socket is closed.
func watchSubscriptions(s *socket, verbose bool, stderr io.Writer) (first, done chan struct{}) {
	first, done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		seen := false
		for {
			m, err := s.Recv(context.Background())
			if err != nil {
				return // closed
			}
			if len(m) != 1 || len(m[0]) == 0 || m[0][0] > 1 {
				continue
			}
			if m[0][0] == 1 && !seen {
				seen = true
				close(first)
			}
			if verbose {
				kind := "subscribe"
				if m[0][0] == 0 {
					kind = "unsubscribe"
				}
				fmt.Fprintf(stderr, "%s %s\n", kind, strconv.Quote(string(m[0][1:])))
			}
		}
	}()
	return first, done
}

// lineReader reads lines in a goroutine of its own, so that waiting for
// input does not keep a signal from ending the command.
type lineReader struct {
	ch   chan lineResult
	done chan struct{}
}

type lineResult struct {
	line []byte
	err  error
}

func readLines(r io.Reader) *lineReader {
	l := &lineReader{ch: make(chan lineResult), done: make(chan struct{})}
	go func() {
		defer close(l.ch)
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				line = bytes.TrimSuffix(line, []byte{'\n'})
				line = bytes.TrimSuffix(line, []byte{'\r'})
				select {
				case l.ch <- lineResult{line: line}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					select {
					case l.ch <- lineResult{err: fmt.Errorf("reading stdin: %w", err)}:
					case <-l.done:
					}
				}
				return
			}
		}
	}()
	return l
}

// next returns the next line without its line end, or io.EOF.
func (l *lineReader) next(ctx context.Context) ([]byte, error) {
	select {
	case r, ok := <-l.ch:
		if !ok {
			return nil, io.EOF
		}
		return r.line, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stop lets the reading goroutine end (at once if it waits to deliver a
// line; if it waits for input, when that comes).
func (l *lineReader) stop() { close(l.done) }
