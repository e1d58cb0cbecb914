package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// The two-process bench starts its own executable once per side of a
// measurement. A child finds what to do in the environment variable
// ChildEnv (a JSON spec), so the same mechanism works from the zmqkit
// binary ("zmqkit bench child") and from a test binary whose TestMain calls
// ChildMain first.
//
// A child talks to its parent in lines. On stdout:
//
//	listening ENDPOINT [ENDPOINT]   a side that listens, once bound
//	ready                           a receiver that got its first probe
//	result {JSON}                   the last line: what it measured
//
// and on stdin it reads "go" (a sender: stop probing, start measuring) and
// "stop" or end of input (stop sending end marks / serving, and exit).

// ChildEnv names the environment variable that makes a process a bench child.
const ChildEnv = "ZMQKIT_BENCH_CHILD"

// IsChild reports whether this process was started as a bench child.
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// Sequence numbers in a message's first 8 bytes: these two are not data.
const (
	probe   = ^uint64(0)     // the connection (and subscription) is up
	endMark = ^uint64(0) - 1 // the sender sent everything
)

// spec tells a child what to do.
type spec struct {
	Role    string  `json:"role"`              // send, recv, echo, call, device
	System  string  `json:"system"`            // zmqkit or raw
	Pattern string  `json:"pattern"`           // pushpull, pubsub, …
	Listen  string  `json:"listen,omitempty"`  // endpoint to listen on
	Listen2 string  `json:"listen2,omitempty"` // a device's back end
	Dial    string  `json:"dial,omitempty"`    // endpoint to dial
	Size    int     `json:"size"`
	Count   int     `json:"count"`
	Subs    int     `json:"subs,omitempty"` // SUB sockets in a receiver
	Rate    float64 `json:"rate,omitempty"` // msgs/s a sender paces to; 0: flat out
	// Warm is how many uncounted messages (probes) a paced sender sends at
	// its rate before the counted ones.
	Warm int `json:"warm,omitempty"`
}

// childResult is a child's last line.
type childResult struct {
	Sent      uint64   `json:"sent,omitempty"`
	Received  uint64   `json:"received,omitempty"`
	Reordered uint64   `json:"reordered,omitempty"`
	ElapsedNs int64    `json:"elapsed_ns,omitempty"` // first to last data message (receiver), or sending (sender)
	Latency   *Latency `json:"latency,omitempty"`
	RSS       int64    `json:"rss_bytes,omitempty"` // the child's own peak (see peakRSS)
	Err       string   `json:"error,omitempty"`
}

// ChildMain runs the role the parent put in ChildEnv, writing its lines to
// stdout, and returns the process's exit code.
func ChildMain() int {
	var s spec
	if err := json.Unmarshal([]byte(os.Getenv(ChildEnv)), &s); err != nil {
		fmt.Fprintf(os.Stderr, "zmqkit bench child: bad %s: %v\n", ChildEnv, err)
		return 2
	}
	// A child never outlives its parent's patience: a wedged run ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := &childIO{out: bufio.NewWriter(os.Stdout), in: stdinLines(os.Stdin)}
	res, err := runRole(ctx, s, c)
	if err != nil {
		res.Err = err.Error()
	}
	res.RSS = peakRSS()
	b, _ := json.Marshal(res)
	c.say("result " + string(b))
	if err != nil {
		return 1
	}
	return 0
}

// childIO is a child's line channel to its parent.
type childIO struct {
	mu  sync.Mutex
	out *bufio.Writer
	in  <-chan string // closed at end of input
}

func (c *childIO) say(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.WriteString(line + "\n")
	c.out.Flush()
}

// await waits for the parent's word (or the end of its input).
func (c *childIO) await(ctx context.Context, word string) error {
	for {
		select {
		case l, ok := <-c.in:
			if !ok || l == word {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// heard reports, without waiting, whether the parent said anything (or
// closed its input) since the last call.
func (c *childIO) heard() bool {
	select {
	case <-c.in:
		return true
	default:
		return false
	}
}

func stdinLines(r io.Reader) <-chan string {
	ch := make(chan string, 4)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- strings.TrimSpace(sc.Text())
		}
	}()
	return ch
}

func runRole(ctx context.Context, s spec, c *childIO) (childResult, error) {
	if s.Size < 8 || s.Count <= 0 {
		return childResult{}, fmt.Errorf("size %d, count %d: want size ≥ 8 and count > 0", s.Size, s.Count)
	}
	switch {
	case (s.System == "raw" || s.System == "rawalloc") && s.Role == "send":
		return rawSend(ctx, s, c)
	case (s.System == "raw" || s.System == "rawalloc") && s.Role == "recv":
		return rawRecv(ctx, s, c)
	case s.System == "raw" && s.Role == "echo":
		return rawEcho(ctx, s, c)
	case s.System == "raw" && s.Role == "call":
		return rawCall(ctx, s, c)
	case s.System == "zmqkit" && s.Role == "send":
		return zmqSend(ctx, s, c)
	case s.System == "zmqkit" && s.Role == "recv":
		return zmqRecv(ctx, s, c)
	case s.System == "zmqkit" && s.Role == "echo":
		return zmqEcho(ctx, s, c)
	case s.System == "zmqkit" && s.Role == "call":
		return zmqCall(ctx, s, c)
	case s.System == "zmqkit" && s.Role == "device":
		return zmqDevice(ctx, s, c)
	}
	return childResult{}, fmt.Errorf("unknown role %q for system %q", s.Role, s.System)
}

// counter checks the sequence numbers one receiving socket sees.
type counter struct {
	next, got, reordered uint64
	first, last          time.Time
	probed, ended        bool
}

// see counts b and reports whether it was the end mark.
func (k *counter) see(b []byte) (end bool) {
	if len(b) < 8 {
		return false
	}
	switch seq := binary.BigEndian.Uint64(b); seq {
	case probe:
		k.probed = true
	case endMark:
		k.ended = true
		return true
	default:
		k.probed = true
		now := time.Now()
		if k.got == 0 {
			k.first = now
		}
		k.last = now
		k.got++
		if seq < k.next {
			k.reordered++
		} else {
			k.next = seq + 1
		}
	}
	return false
}

// sum merges the counters of several receiving sockets: data counts add
// up, the span runs from the earliest first to the latest last message.
func sum(ks []*counter) childResult {
	var r childResult
	var first, last time.Time
	for _, k := range ks {
		r.Received += k.got
		r.Reordered += k.reordered
		if k.got == 0 {
			continue
		}
		if first.IsZero() || k.first.Before(first) {
			first = k.first
		}
		if k.last.After(last) {
			last = k.last
		}
	}
	r.ElapsedNs = int64(last.Sub(first))
	return r
}

// pacer spaces sends to a rate: message i is due at start + i/rate.
type pacer struct {
	start time.Time
	rate  float64
}

func (p pacer) wait(i int) {
	if p.rate <= 0 || i%16 != 0 {
		return
	}
	due := p.start.Add(time.Duration(float64(i) / p.rate * 1e9))
	if d := time.Until(due); d > 0 {
		sleepFor(d)
	}
}

// stamped is a new message of size bytes carrying seq; a new buffer per
// message, as an application builds it.
func stamped(size int, seq uint64) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint64(p, seq)
	return p
}

// sendPhases is a sender's life: probe until the parent says go, send
// count messages, then end marks until the parent says stop.
func sendPhases(ctx context.Context, s spec, c *childIO, send func(context.Context, []byte) error, flush func() error) (childResult, error) {
	var res childResult
	for !c.heard() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		tctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		err := send(tctx, stamped(s.Size, probe))
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return res, err
		}
		if flush != nil {
			if err := flush(); err != nil {
				return res, err
			}
		}
		time.Sleep(time.Millisecond)
	}
	p := pacer{start: time.Now(), rate: s.Rate}
	for i := 0; i < s.Warm; i++ {
		p.wait(i)
		if err := send(ctx, stamped(s.Size, probe)); err != nil {
			return res, err
		}
	}
	// One pacer over the warm-up and the counted messages: the rate runs
	// on without a break; the elapsed time is the counted part's.
	counted := time.Now()
	for i := 0; i < s.Count; i++ {
		p.wait(s.Warm + i)
		if err := send(ctx, stamped(s.Size, uint64(i))); err != nil {
			return res, err
		}
	}
	if flush != nil {
		if err := flush(); err != nil {
			return res, err
		}
	}
	res.Sent, res.ElapsedNs = uint64(s.Count), int64(time.Since(counted))
	for !c.heard() && ctx.Err() == nil {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		err := send(tctx, stamped(s.Size, endMark))
		cancel()
		if err == nil && flush != nil {
			err = flush()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			break // the receiver has gone: what it needed, it has
		}
		time.Sleep(5 * time.Millisecond)
	}
	return res, nil
}
