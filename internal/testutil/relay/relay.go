// Package relay is a TCP relay for tests: it forwards connections made to a
// listener on 127.0.0.1 to a target, and can stop forwarding while keeping
// every connection open, as a network that silently loses the path would
// (a half-open connection as each end sees it).
package relay

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dialTimeout bounds how long the relay tries to reach its target for one
// accepted connection, and so how long Close may wait for a dial.
const dialTimeout = 2 * time.Second

// Relay forwards TCP connections from 127.0.0.1 to a target. Paused, it
// stops copying in both directions: it holds what it has read and reads no
// more, so nothing is lost, and every connection stays open. Resumed, it
// delivers what it held, in order. Its methods are safe for concurrent use.
type Relay struct {
	ln     net.Listener
	target string
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup

	mu     sync.Mutex
	open   chan struct{} // closed while forwarding
	conns  map[net.Conn]struct{}
	closed bool

	up, down atomic.Int64 // bytes forwarded dialer→target, target→dialer
}

// Start listens on a free port of 127.0.0.1 and forwards every connection
// made there to target ("host:port" or "tcp://host:port"). It fails tb at
// once if it cannot listen, and closes the relay when tb's test ends.
func Start(tb testing.TB, target string) *Relay {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("relay: listen: %v", err)
	}
	r := &Relay{
		ln:     ln,
		target: strings.TrimPrefix(target, "tcp://"),
		done:   make(chan struct{}),
		open:   make(chan struct{}),
		conns:  make(map[net.Conn]struct{}),
	}
	close(r.open)
	r.wg.Add(1)
	go r.accept()
	tb.Cleanup(r.Close)
	return r
}

// Endpoint returns the address to dial instead of the target, as
// tcp://127.0.0.1:port.
func (r *Relay) Endpoint() string { return "tcp://" + r.ln.Addr().String() }

// Pause stops forwarding in both directions; connections stay open and new
// ones are still accepted. Pausing a paused relay does nothing.
func (r *Relay) Pause() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.open:
		r.open = make(chan struct{})
	default:
	}
}

// Resume forwards again, starting with what was held. Resuming a relay that
// forwards does nothing.
func (r *Relay) Resume() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.open:
	default:
		close(r.open)
	}
}

// Up returns how many bytes the relay has delivered so far from the
// dialers to the target.
func (r *Relay) Up() int64 { return r.up.Load() }

// Down returns how many bytes the relay has delivered so far from the
// target back to the dialers.
func (r *Relay) Down() int64 { return r.down.Load() }

// Close stops the relay: it closes the listener and every connection, and
// waits for all of the relay's goroutines to end. It is idempotent.
func (r *Relay) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.done)
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	_ = r.ln.Close()
	for c := range conns {
		_ = c.Close()
	}
	r.wg.Wait()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", r.target, dialTimeout)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !r.track(in, out) {
			_ = in.Close()
			_ = out.Close()
			return
		}
		r.wg.Add(2)
		go r.pipe(in, out, &r.up)
		go r.pipe(out, in, &r.down)
	}
}

// track records a connection pair so that Close can close it; false once
// the relay is closed.
func (r *Relay) track(in, out net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[in] = struct{}{}
	r.conns[out] = struct{}{}
	return true
}

// untrack forgets a finished connection pair, so that the relay holds only
// live connections however many come and go.
func (r *Relay) untrack(in, out net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, in) // a nil map after Close: delete does nothing
	delete(r.conns, out)
}

// gate waits while the relay is paused; false once it is closed.
func (r *Relay) gate() bool {
	r.mu.Lock()
	open := r.open
	r.mu.Unlock()
	select {
	case <-open:
		return true
	case <-r.done:
		return false
	}
}

// pipe copies src to dst, holding what it read while the relay is paused,
// and counts what it delivered in n. When either side ends it closes both,
// which ends the pipe going the other way too.
func (r *Relay) pipe(src, dst net.Conn, n *atomic.Int64) {
	defer r.wg.Done()
	defer func() {
		_ = src.Close()
		_ = dst.Close()
		r.untrack(src, dst)
	}()
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if !r.gate() {
				return
			}
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
			n.Add(int64(k))
		}
		if err != nil {
			return
		}
	}
}
