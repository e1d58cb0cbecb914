package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

// The in-process measurement: both sides of a pattern in this process, for
// inproc and for the labelled --in-process variant.

// limits bound one in-process sample: by time, and by count when n > 0.
type limits struct {
	d time.Duration
	n int
}

func (l limits) more(i int, start time.Time) bool {
	if l.n > 0 && i >= l.n {
		return false
	}
	// Checking the clock every 64 messages keeps it off the hot path.
	return i&63 != 0 || time.Since(start) < l.d
}

// rig is a wired-up pattern: one-way send/recv for throughput, and a round
// trip for latency, whichever the pattern has.
type rig struct {
	send  func(context.Context, []byte) error
	recv  func(context.Context) ([]byte, error)
	call  func(context.Context, []byte) ([]byte, error)
	lossy bool
	close func()
}

var inprocSeq atomic.Uint64

// endpoints hands out listen endpoints for a transport; cleanup removes
// what it made.
type endpoints struct {
	tr  string
	dir string
}

func (e *endpoints) next() (string, error) {
	switch e.tr {
	case "tcp":
		return "tcp://127.0.0.1:0", nil
	case "ws":
		return fmt.Sprintf("ws://127.0.0.1:0/bench-%d", inprocSeq.Add(1)), nil
	case "ipc":
		if e.dir == "" {
			d, err := os.MkdirTemp("", "zmqkit-bench")
			if err != nil {
				return "", err
			}
			e.dir = d
		}
		return fmt.Sprintf("ipc://%s", filepath.Join(e.dir, fmt.Sprint(inprocSeq.Add(1)))), nil
	default:
		return fmt.Sprintf("inproc://zmqkit-bench-%d", inprocSeq.Add(1)), nil
	}
}

func (e *endpoints) cleanup() {
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// wiring builds sockets and devices and closes them all in reverse order.
type wiring struct {
	ep      endpoints
	socks   []*sockets.Socket
	stopDev []func()
	err     error
}

func (w *wiring) sock(t sockets.Type, opts ...sockets.Option) *sockets.Socket {
	if w.err != nil {
		return nil
	}
	opts = append([]sockets.Option{sockets.WithLinger(0)}, opts...)
	s, err := sockets.New(t, opts...)
	if err != nil {
		w.err = err
		return nil
	}
	w.socks = append(w.socks, s)
	return s
}

func (w *wiring) listen(s *sockets.Socket) string {
	if w.err != nil {
		return ""
	}
	ep, err := w.ep.next()
	if err != nil {
		w.err = err
		return ""
	}
	addr, err := s.Listen(ep)
	if err != nil {
		w.err = err
	}
	return addr
}

func (w *wiring) dial(s *sockets.Socket, addr string) {
	if w.err == nil {
		w.err = s.Dial(addr)
	}
}

// device runs p until close.
func (w *wiring) device(p *devices.Proxy, err error) {
	if w.err != nil {
		return
	}
	if err != nil {
		w.err = err
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = p.Run(ctx) }()
	w.stopDev = append(w.stopDev, func() { cancel(); wg.Wait() })
}

func (w *wiring) close() {
	for _, f := range w.stopDev {
		f()
	}
	for i := len(w.socks) - 1; i >= 0; i-- {
		w.socks[i].Close()
	}
	w.ep.cleanup()
}

func recvLast(s *sockets.Socket) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		m, err := s.RecvMsg(ctx)
		if err != nil {
			return nil, err
		}
		return m.Frame(m.Len() - 1), nil
	}
}

func sendOne(s *sockets.Socket) func(context.Context, []byte) error {
	return func(ctx context.Context, b []byte) error { return s.SendMsg(ctx, sockets.Msg{Head: b}) }
}

// build wires up pattern over transport.
func build(pattern, tr string, lat bool) (*rig, error) {
	w := &wiring{ep: endpoints{tr: tr}}
	r := &rig{close: w.close}
	switch pattern {
	case "pushpull":
		pull, push := w.sock(sockets.Pull), w.sock(sockets.Push)
		w.dial(push, w.listen(pull))
		r.send, r.recv = sendOne(push), recvLast(pull)
	case "pubsub":
		pub, sub := w.sock(sockets.Pub), w.sock(sockets.Sub, sockets.WithSubscribe(""))
		w.dial(sub, w.listen(pub))
		r.send, r.recv, r.lossy = sendOne(pub), recvLast(sub), true
	case "dealerrouter":
		router, dealer := w.sock(sockets.Router), w.sock(sockets.Dealer)
		w.dial(dealer, w.listen(router))
		r.send, r.recv = sendOne(dealer), recvLast(router)
		if lat {
			r.call = echo(w, dealer, router, func(ctx context.Context, m sockets.Msg) error { return router.SendMsg(ctx, m) })
		}
	case "reqrep":
		rep, req := w.sock(sockets.Rep), w.sock(sockets.Req)
		w.dial(req, w.listen(rep))
		r.call = echo(w, req, rep, func(ctx context.Context, m sockets.Msg) error { return rep.SendMsg(ctx, m) })
	case "streamer":
		front, back := w.sock(sockets.Pull), w.sock(sockets.Push)
		fa, ba := w.listen(front), w.listen(back)
		if w.err == nil {
			w.device(devices.NewStreamer(front, back, devices.WithDrain(0)))
		}
		push, pull := w.sock(sockets.Push), w.sock(sockets.Pull)
		w.dial(push, fa)
		w.dial(pull, ba)
		r.send, r.recv = sendOne(push), recvLast(pull)
	case "forwarder":
		front, back := w.sock(sockets.XSub), w.sock(sockets.XPub)
		fa, ba := w.listen(front), w.listen(back)
		if w.err == nil {
			w.device(devices.NewForwarder(front, back, devices.WithDrain(0)))
		}
		pub, sub := w.sock(sockets.Pub), w.sock(sockets.Sub, sockets.WithSubscribe(""))
		w.dial(pub, fa)
		w.dial(sub, ba)
		r.send, r.recv, r.lossy = sendOne(pub), recvLast(sub), true
	case "queue":
		front, back := w.sock(sockets.Router), w.sock(sockets.Dealer)
		fa, ba := w.listen(front), w.listen(back)
		if w.err == nil {
			w.device(devices.NewQueue(front, back, devices.WithDrain(0)))
		}
		if lat {
			req, rep := w.sock(sockets.Req), w.sock(sockets.Rep)
			w.dial(req, fa)
			w.dial(rep, ba)
			r.call = echo(w, req, rep, func(ctx context.Context, m sockets.Msg) error { return rep.SendMsg(ctx, m) })
		} else {
			client, worker := w.sock(sockets.Dealer), w.sock(sockets.Dealer)
			w.dial(client, fa)
			w.dial(worker, ba)
			r.send, r.recv = sendOne(client), recvLast(worker)
		}
	default:
		w.err = fmt.Errorf("bench: unknown pattern %q", pattern)
	}
	if w.err != nil {
		w.close()
		return nil, w.err
	}
	return r, nil
}

// echo starts a server goroutine that sends back what it receives, and
// returns the client's round trip. The server stops when the rig closes.
func echo(w *wiring, client, server *sockets.Socket, reply func(context.Context, sockets.Msg) error) func(context.Context, []byte) ([]byte, error) {
	if w.err != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := server.RecvMsg(ctx)
			if err != nil {
				return
			}
			if reply(ctx, m) != nil {
				return
			}
		}
	}()
	w.stopDev = append(w.stopDev, func() { cancel(); wg.Wait() })
	return func(ctx context.Context, b []byte) ([]byte, error) {
		if err := client.SendMsg(ctx, sockets.Msg{Head: b}); err != nil {
			return nil, err
		}
		m, err := client.RecvMsg(ctx)
		if err != nil {
			return nil, err
		}
		return m.Frame(m.Len() - 1), nil
	}
}

func measure(ctx context.Context, pattern, tr string, size int, lim limits) Row {
	row := Row{System: "zmqkit", Pattern: pattern, Transport: tr, Size: size}
	lat := pattern == "reqrep" || pattern == "dealerrouter" || pattern == "queue"
	if pattern != "reqrep" {
		r, err := build(pattern, tr, false)
		if err != nil {
			row.Err = err.Error()
			return row
		}
		throughput(ctx, r, size, lim, &row)
		r.close()
	}
	if lat && row.Err == "" {
		r, err := build(pattern, tr, true)
		if err != nil {
			row.Err = err.Error()
			return row
		}
		latency(ctx, r.call, size, lim, &row)
		r.close()
	}
	return row
}

// warmUp sends probes until one arrives: the connection (and for pub/sub
// the subscription) is in place when measuring starts.
func warmUp(ctx context.Context, r *rig, size int) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p := make([]byte, size)
		binary.BigEndian.PutUint64(p, probe)
		if err := r.send(ctx, p); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		b, err := r.recv(rctx)
		cancel()
		if err == nil && len(b) >= 8 && binary.BigEndian.Uint64(b) == probe {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return errors.New("no message got through within 5s")
}

// throughput sends sequence-numbered messages as fast as the socket takes
// them and counts, in order, what arrives.
func throughput(ctx context.Context, r *rig, size int, lim limits, row *Row) {
	if err := warmUp(ctx, r, size); err != nil {
		row.Err = err.Error()
		return
	}
	var (
		sent     atomic.Uint64
		sendDone = make(chan time.Duration, 1)
		sendErr  error
	)
	cpu0 := ProcessCPU()
	start := time.Now()
	go func() {
		i := 0
		for ; lim.more(i, start); i++ {
			p := make([]byte, size)
			binary.BigEndian.PutUint64(p, uint64(i))
			if err := r.send(ctx, p); err != nil {
				sendErr = err
				break
			}
			sent.Store(uint64(i + 1))
		}
		sendDone <- time.Since(start)
	}()

	// The receiver stops once it has everything sent, or once the sender is
	// done and nothing more has come for a while (the rest was lost).
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var received atomic.Uint64
	var sendElapsed time.Duration
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		sendElapsed = <-sendDone
		idle := 250 * time.Millisecond
		if !r.lossy {
			idle = 3 * time.Second
		}
		last, lastChange := received.Load(), time.Now()
		for received.Load() < sent.Load() {
			if n := received.Load(); n != last {
				last, lastChange = n, time.Now()
			} else if time.Since(lastChange) > idle {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop()
	}()
	var next, reordered uint64
	var lastArrival time.Time
	for {
		b, err := r.recv(rctx)
		if err != nil {
			break
		}
		seq := binary.BigEndian.Uint64(b)
		if seq == probe {
			continue
		}
		if seq < next {
			reordered++
		} else {
			next = seq + 1
		}
		received.Add(1)
		lastArrival = time.Now()
	}
	<-watchDone
	cpu := ProcessCPU() - cpu0
	row.Sent, row.Received, row.Reordered = sent.Load(), received.Load(), reordered
	if row.Received < row.Sent {
		row.Lost = row.Sent - row.Received
	}
	if sendElapsed > 0 {
		row.SendRate = float64(row.Sent) / sendElapsed.Seconds()
	}
	if recvElapsed := lastArrival.Sub(start); row.Received > 0 && recvElapsed > 0 {
		row.RecvRate = float64(row.Received) / recvElapsed.Seconds()
	}
	row.SendMBps, row.RecvMBps = mb(row.SendRate, row.Size), mb(row.RecvRate, row.Size)
	if row.Received > 0 {
		row.CPUPerMsg = float64(cpu.Nanoseconds()) / float64(row.Received)
	}
	if sendErr != nil && row.Err == "" {
		row.Err = sendErr.Error()
	}
}

// latency measures round trips one at a time.
func latency(ctx context.Context, call func(context.Context, []byte) ([]byte, error), size int, lim limits, row *Row) {
	payload := make([]byte, size)
	for i := 0; i < 200; i++ { // warm-up, and wait for the connection
		if _, err := call(ctx, payload); err != nil {
			row.Err = err.Error()
			return
		}
	}
	var h histogram
	cpu0 := ProcessCPU()
	start := time.Now()
	i := 0
	for ; lim.more(i, start); i++ {
		p := make([]byte, size)
		binary.BigEndian.PutUint64(p, uint64(i))
		t := time.Now()
		b, err := call(ctx, p)
		if err != nil {
			row.Err = err.Error()
			return
		}
		h.Record(time.Since(t))
		if binary.BigEndian.Uint64(b) != uint64(i) {
			row.Err = fmt.Sprintf("reply %d out of order", i)
			return
		}
	}
	elapsed := time.Since(start)
	cpu := ProcessCPU() - cpu0
	row.Latency = latencyOf(&h)
	if row.Sent == 0 { // a latency-only row: rates are round trips
		row.Sent, row.Received = uint64(i), uint64(i)
		row.SendRate = float64(i) / elapsed.Seconds()
		row.RecvRate = row.SendRate
		row.SendMBps, row.RecvMBps = mb(row.SendRate, size), mb(row.RecvRate, size)
		row.CPUPerMsg = float64(cpu.Nanoseconds()) / float64(max(i, 1))
	}
}
