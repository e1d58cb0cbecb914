package sockets_test

// Resource bounds a hostile peer runs into (see DESIGN.md, "Resource
// bounds"): each test makes the attack an outside audit made and asserts
// what it may cost, in bytes or counts, never in time.

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// hdHeap is the live heap after a full collection.
func hdHeap() int64 {
	// The live heap the last collection marked: HeapAlloc would also count
	// what the socket's goroutines, still at work, allocated since (garbage
	// to be), and swing by tens of MiB with the scheduler.
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// hdFlood writes frames until total bytes are sent or the other side ends
// the connection, and returns how many bytes the other side took.
func hdFlood(c net.Conn, frame []byte, total int) int {
	sent := 0
	for sent < total {
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Write(frame)
		sent += n
		if err != nil {
			break
		}
	}
	return sent
}

// ---- 1. handshake commands with MORE ----------------------------------------

func TestHardenHandshakeMoreFlood(t *testing.T) {
	keys, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	cases := []struct {
		name string
		mech string
		opt  sockets.Option
	}{
		{"null", "NULL", nil},
		{"plain", "PLAIN", sockets.WithPlainServer(func(string, string) bool { return true })},
		{"curve", "CURVE", sockets.WithCurveServer(keys, nil)},
	}
	const flood = 64 << 20
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []sockets.Option
			if c.opt != nil {
				opts = append(opts, c.opt)
			}
			srv, log := rbSocket(t, sockets.Pull, opts...)
			addr, err := srv.Listen("tcp://127.0.0.1:0")
			require.NoError(t, err)
			r := rbDial(t, addr)
			r.mustWrite(rbGreeting(c.mech, false))
			// A 60 KiB command with MORE, again and again: zmq4 alone
			// would append them all until the handshake timeout.
			frame := rbFrame(0x05, append([]byte("\x05HELLO"), make([]byte, 60<<10)...))
			before := hdHeap()
			sent := hdFlood(r.c, frame, flood)
			ev := log.await(t, 0, 10*time.Second, "handshake-failed", rbKind(sockets.EventHandshakeFailed))
			assert.ErrorIs(t, ev.Err, sockets.ErrHandshake)
			assert.Contains(t, ev.Err.Error(), "MORE")
			grew := hdHeap() - before
			t.Logf("sent %d of %d bytes before the connection ended; heap %+d bytes; reason: %v", sent, flood, grew, ev.Err)
			// Loopback kernel buffers take a few MiB whatever we do.
			assert.Less(t, sent, 16<<20, "bytes the listener took before dropping the connection")
			assert.Less(t, grew, int64(8<<20), "heap growth")
			assert.Equal(t, uint64(1), srv.Stats().HandshakeFailures)
		})
	}
}

func TestHardenHostileServerMoreFlood(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cli, log := rbSocket(t, sockets.Pull, sockets.WithReconnect(time.Hour, 0))
	require.NoError(t, cli.Dial("tcp://"+ln.Addr().String()))
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(rbGreeting("NULL", true))
	require.NoError(t, err)
	frame := rbFrame(0x05, append([]byte("\x05READY"), make([]byte, 60<<10)...))
	sent := hdFlood(c, frame, 64<<20)
	ev := log.await(t, 0, 10*time.Second, "handshake-failed", rbKind(sockets.EventHandshakeFailed))
	assert.Contains(t, ev.Err.Error(), "MORE")
	t.Logf("the hostile server sent %d bytes before the dialer hung up", sent)
	assert.Less(t, sent, 16<<20)
}

// ---- 4. frame-count amplification ----------------------------------------------

// A ROUTER echoes every message back to a DEALER that never reads. Each
// message is 65,535 empty frames: 128 KiB on the wire, 1.5 MiB of slice
// headers in memory. Before byte bounds, 18 MiB sent held 378 MiB.
func TestHardenEmptyFrameAmplification(t *testing.T) {
	srv, log := rbSocket(t, sockets.Router)
	addr, err := srv.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	r := rbDial(t, addr)
	r.handshake("DEALER")
	log.await(t, 0, 5*time.Second, "connected", rbKind(sockets.EventConnected))

	ctx, cancel := context.WithCancel(context.Background())
	var echoed int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := srv.Recv(ctx)
			if err != nil {
				return
			}
			echoed++
			_ = srv.Send(ctx, m...) // dropped once the peer's pipe is full
		}
	}()

	var msg []byte
	for range 65534 {
		msg = append(msg, 0x01, 0x00)
	}
	msg = append(msg, 0x00, 0x00)
	before := hdHeap()
	const total = 16 << 20
	var sent int
	for sent < total {
		// The echo is slow under -race: a generous deadline, it is not
		// what is measured.
		_ = r.c.SetWriteDeadline(time.Now().Add(time.Minute))
		_, err := r.c.Write(msg)
		require.NoError(t, err, "the ROUTER stopped reading after %d bytes", sent)
		sent += len(msg)
	}
	// Everything sent has been read once the ROUTER has echoed (or is
	// holding) it; the heap is what it keeps.
	grew := hdHeap() - before
	st := srv.Stats()
	cancel()
	wg.Wait()
	t.Logf("sent %d MiB in %d messages; echoed %d, dropped %d; heap %+d MiB", sent>>20, sent/len(msg), echoed, st.Dropped, grew>>20)
	// Per pipe 32 MiB each way counted at 32 bytes a frame: some 48 MiB
	// of real slice headers at most, plus what is in flight. Unbounded,
	// the 128 messages would hold 200 MiB and more.
	assert.Less(t, grew, int64(100<<20), "heap held for 16 MiB of empty frames")
	assert.NotZero(t, st.Dropped, "the ROUTER dropped for the peer that does not read")
}

// ---- 5. big frames ---------------------------------------------------------------

// Two peers each half-way through a 64 MiB frame hold what they sent, not
// a doubled buffer; stalled there, they are dropped by the progress
// timeout, and the memory comes back.
func TestHardenBigFramesHalfWay(t *testing.T) {
	tg := rbNewTarget(t, sockets.Pull, sockets.WithProgressTimeout(2*time.Second))
	const size, half = 64 << 20, 33 << 20
	before := hdHeap()
	var peers []*rbRaw
	mark := tg.srvLog.mark()
	for range 2 {
		r := rbDial(t, tg.addr)
		r.handshake("PUSH")
		r.mustWrite(rbLongHeader(0, size), make([]byte, half))
		peers = append(peers, r)
	}
	tg.exchange(t, 2) // a legitimate peer is served meanwhile
	held := hdHeap() - before
	t.Logf("two peers %d MiB into a %d MiB frame: heap %+d MiB", half>>20, size>>20, held>>20)
	assert.Less(t, held, int64(2*half+16<<20), "memory for two half-sent frames")

	// Stalled: both are dropped, counted, and the memory is returned.
	tg.srvLog.awaitCount(t, mark, 2, 20*time.Second, "stalled", rbKind(sockets.EventStalled))
	for _, r := range peers {
		r.expectDropped()
	}
	assert.Equal(t, uint64(2), tg.srv.Stats().Stalled)
	assert.Less(t, hdHeap()-before, int64(8<<20), "memory after the stalled peers were dropped")
	tg.exchange(t, 2)
	tg.intact(t)
}

// A peer trickling a frame keeps the connection alive by heartbeat rules
// (it is never silent) but not by the progress rule.
func TestHardenTrickledFrame(t *testing.T) {
	tg := rbNewTarget(t, sockets.Pull, sockets.WithProgressTimeout(300*time.Millisecond),
		sockets.WithHeartbeat(100*time.Millisecond, 300*time.Millisecond, 0))
	mark := tg.srvLog.mark()
	r := rbDial(t, tg.addr)
	r.handshake("PUSH")
	r.mustWrite(rbLongHeader(0, 1<<20))
	done := make(chan struct{})
	go func() { // two bytes every 50 ms, until the connection ends
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			if r.write([]byte("ab")) != nil {
				return
			}
		}
	}()
	ev := tg.srvLog.await(t, mark, 20*time.Second, "stalled", rbFrom(sockets.EventStalled, r.addr()))
	assert.ErrorIs(t, ev.Err, sockets.ErrStalled)
	_ = r.c.Close()
	<-done
	tg.exchange(t, 2)
	tg.intact(t)
}

// The budget for frames in progress bounds them across peers: of two peers
// sending 16 MiB frames under a 30 MiB budget, one passes it and is
// dropped; the other is served. (A frame is read in chunks until three
// quarters of it are in, then into a buffer of its own: 28 MiB at the
// switch.)
func TestHardenLargeFrameBudget(t *testing.T) {
	tg := rbNewTarget(t, sockets.Pull, sockets.WithLargeFrameBudget(30<<20))
	mark := tg.srvLog.mark()
	const size, part = 16 << 20, 15 << 20
	peers := map[string]*rbRaw{}
	var wg sync.WaitGroup
	for range 2 {
		r := rbDial(t, tg.addr)
		r.handshake("PUSH")
		peers[r.addr()] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = r.write(rbLongHeader(0, size), make([]byte, part)) // fails for the one dropped
		}()
	}
	ev := tg.srvLog.await(t, mark, 10*time.Second, "over budget", rbKind(sockets.EventMessageTooLarge))
	assert.ErrorIs(t, ev.Err, sockets.ErrFrameBudget)
	wg.Wait()
	require.Contains(t, peers, ev.Remote)
	delete(peers, ev.Remote)
	for _, r := range peers { // the other one finishes its frame and is served
		r.mustWrite(make([]byte, size-part))
	}
	ctx := rbCtx(t, 10*time.Second)
	for {
		m, err := tg.srv.Recv(ctx)
		require.NoError(t, err)
		if len(m[0]) == size {
			break
		}
	}
	assert.Equal(t, uint64(1), tg.srv.Stats().TooLarge)
}

// ---- 6. idle connections ------------------------------------------------------------

func TestHardenIdleConnectionsAreCheap(t *testing.T) {
	srv, log := rbSocket(t, sockets.Pull)
	addr, err := srv.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	const n = 300
	// Warm up: one connection, so that what exists once per socket or
	// process (pools, maps) is not counted per connection.
	w := rbDial(t, addr)
	w.handshake("PUSH")
	log.awaitCount(t, 0, 1, 5*time.Second, "connected", rbKind(sockets.EventConnected))

	var gs0, gs1 runtime.MemStats
	before := hdHeap()
	runtime.ReadMemStats(&gs0)
	for range n {
		r := rbDial(t, addr)
		r.handshake("PUSH")
	}
	log.awaitCount(t, 0, n+1, 20*time.Second, "connected", rbKind(sockets.EventConnected))
	after := hdHeap()
	runtime.ReadMemStats(&gs1)
	if p := os.Getenv("ZMQKIT_HEAPPROFILE"); p != "" {
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, pprof.WriteHeapProfile(f))
		f.Close()
	}
	per := (after - before) / n
	stacks := (int64(gs1.StackInuse) - int64(gs0.StackInuse)) / n
	t.Logf("an idle connection costs %d bytes of heap (and %d of goroutine stacks; the raw test peers' side included)", per, stacks)
	assert.LessOrEqual(t, per, int64(16<<10), "heap per idle connection")
}

// ---- 7. Listen racing Close ---------------------------------------------------------

func TestHardenListenRacesClose(t *testing.T) {
	for i := range 200 {
		s, err := sockets.New(sockets.Pull, sockets.WithLinger(0))
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := s.Listen("tcp://127.0.0.1:0"); err != nil {
				assert.ErrorIs(t, err, sockets.ErrClosed, "round %d", i)
			}
		}()
		go func() {
			defer wg.Done()
			if err := s.Dial(fmt.Sprintf("inproc://race-%d", i)); err != nil {
				assert.ErrorIs(t, err, sockets.ErrClosed, "round %d", i)
			}
		}()
		require.NoError(t, s.Close())
		wg.Wait()
	}
}

// ---- connection limit ------------------------------------------------------------------

func TestHardenMaxConnections(t *testing.T) {
	srv, log := rbSocket(t, sockets.Pull, sockets.WithMaxConnections(2))
	addr, err := srv.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	a := rbDial(t, addr)
	a.handshake("PUSH")
	b := rbDial(t, addr)
	log.awaitCount(t, 0, 2, 5*time.Second, "accepted", rbKind(sockets.EventAccepted))
	c := rbDial(t, addr)
	ev := log.await(t, 0, 5*time.Second, "rejected", rbKind(sockets.EventRejected))
	assert.ErrorIs(t, ev.Err, sockets.ErrTooManyConnections)
	assert.Equal(t, c.addr(), ev.Remote)
	c.expectDropped()
	assert.Equal(t, uint64(1), srv.Stats().Rejected)
	// A place frees up when one goes.
	_ = b.c.Close()
	log.await(t, 0, 5*time.Second, "handshake-failed", rbFrom(sockets.EventHandshakeFailed, b.addr()))
	d := rbDial(t, addr)
	d.handshake("PUSH")
}

// ---- the socket's own bound -----------------------------------------------------------

// Four peers send 8 MiB each to a PULL whose queues may hold 1 MiB
// together: everything arrives, in per-peer order, with the readers
// woken as Recv makes room in the shared bound.
func TestHardenSocketBufferBytesShared(t *testing.T) {
	srv, _ := rbSocket(t, sockets.Pull, sockets.WithSocketBufferBytes(0, 1<<20))
	addr, err := srv.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	const peers, per, size = 4, 2000, 4 << 10
	ctx := rbCtx(t, 60*time.Second)
	for p := range peers {
		push, _ := rbSocket(t, sockets.Push, sockets.WithLinger(time.Minute))
		require.NoError(t, push.Dial(addr))
		go func() {
			for i := range per {
				m := make([]byte, size)
				m[0], m[1], m[2] = byte(p), byte(i>>8), byte(i)
				if push.Send(ctx, m) != nil {
					return
				}
			}
		}()
	}
	next := make([]int, peers)
	for range peers * per {
		m, err := srv.Recv(ctx)
		require.NoError(t, err)
		p, i := int(m[0][0]), int(m[0][1])<<8|int(m[0][2])
		require.Equal(t, next[p], i, "peer %d out of order", p)
		next[p]++
	}
}
