package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// The raw baseline is the ceiling: Go over one TCP (or, for ipc, unix
// socket) connection, 4-byte length-prefixed frames through 256 KiB bufio
// buffers on both sides, and no allocation per message — no framing,
// queueing or routing beyond that. A zmqkit figure above it means the
// baseline is broken, and the table says so.

// The same stream with a new buffer for each message sent (system
// "rawalloc"), as the bench's senders make them, is the floor under Go's
// GC instead: no library, however it queues or reads, sends faster under
// that rule with Go's default GC. Its receiver allocates nothing (a library
// may read into buffers it reuses), so the row bounds the sending side.
// Between the two rows lies what that allocation and its collection cost.

const rawBuf = 256 << 10

// rawAddr turns a bench endpoint into a network and address.
func rawAddr(ep string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(ep, "tcp://"):
		return "tcp", strings.TrimPrefix(ep, "tcp://"), nil
	case strings.HasPrefix(ep, "ipc://"):
		return "unix", strings.TrimPrefix(ep, "ipc://"), nil
	}
	return "", "", fmt.Errorf("raw baseline: endpoint %q: want tcp:// or ipc://", ep)
}

// rawAccept listens on s.Listen, says where, and accepts one connection.
func rawAccept(ctx context.Context, s spec, c *childIO) (net.Conn, error) {
	network, addr, err := rawAddr(s.Listen)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	if network == "tcp" {
		c.say("listening tcp://" + ln.Addr().String())
	} else {
		c.say("listening ipc://" + ln.Addr().String())
	}
	return ln.Accept()
}

func rawDial(ctx context.Context, s spec) (net.Conn, error) {
	network, addr, err := rawAddr(s.Dial)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// closeOnDone closes conn when ctx ends, so blocked reads and writes return.
func closeOnDone(ctx context.Context, conn net.Conn) func() bool {
	return context.AfterFunc(ctx, func() { conn.Close() })
}

func rawSend(ctx context.Context, s spec, c *childIO) (childResult, error) {
	conn, err := rawDial(ctx, s)
	if err != nil {
		return childResult{}, err
	}
	defer conn.Close()
	defer closeOnDone(ctx, conn)()
	w := bufio.NewWriterSize(conn, rawBuf)
	buf := make([]byte, 4+s.Size)
	binary.BigEndian.PutUint32(buf, uint32(s.Size))
	alloc := s.System == "rawalloc"
	frame := func(seq uint64) {
		if alloc {
			buf = make([]byte, 4+s.Size)
			binary.BigEndian.PutUint32(buf, uint32(s.Size))
		}
		binary.BigEndian.PutUint64(buf[4:], seq)
		w.Write(buf)
	}
	frame(probe)
	if err := w.Flush(); err != nil {
		return childResult{}, err
	}
	if err := c.await(ctx, "go"); err != nil {
		return childResult{}, err
	}
	start := time.Now()
	p := pacer{start: start, rate: s.Rate}
	for i := 0; i < s.Count; i++ {
		p.wait(i)
		frame(uint64(i))
	}
	frame(endMark)
	if err := w.Flush(); err != nil {
		return childResult{}, err
	}
	res := childResult{Sent: uint64(s.Count), ElapsedNs: int64(time.Since(start))}
	return res, c.await(ctx, "stop")
}

func rawRecv(ctx context.Context, s spec, c *childIO) (childResult, error) {
	conn, err := rawAccept(ctx, s, c)
	if err != nil {
		return childResult{}, err
	}
	defer conn.Close()
	defer closeOnDone(ctx, conn)()
	r := bufio.NewReaderSize(conn, rawBuf)
	buf := make([]byte, s.Size)
	var hdr [4]byte
	var k counter
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return sum([]*counter{&k}), err
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n != s.Size {
			return sum([]*counter{&k}), fmt.Errorf("frame of %d bytes, want %d", n, s.Size)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return sum([]*counter{&k}), err
		}
		wasProbed := k.probed
		if k.see(buf) {
			return sum([]*counter{&k}), nil
		}
		if !wasProbed && k.probed {
			c.say("ready")
		}
	}
}

// rawEcho sends every frame back, flushing when nothing more is buffered.
func rawEcho(ctx context.Context, s spec, c *childIO) (childResult, error) {
	conn, err := rawAccept(ctx, s, c)
	if err != nil {
		return childResult{}, err
	}
	defer conn.Close()
	defer closeOnDone(ctx, conn)()
	noDelay(conn)
	r, w := bufio.NewReaderSize(conn, rawBuf), bufio.NewWriterSize(conn, rawBuf)
	buf := make([]byte, 4+s.Size)
	var res childResult
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) {
				return res, nil
			}
			return res, err
		}
		w.Write(buf)
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return res, err
			}
		}
		res.Received++
	}
}

func rawCall(ctx context.Context, s spec, c *childIO) (childResult, error) {
	conn, err := rawDial(ctx, s)
	if err != nil {
		return childResult{}, err
	}
	defer conn.Close()
	defer closeOnDone(ctx, conn)()
	noDelay(conn)
	r, w := bufio.NewReaderSize(conn, rawBuf), bufio.NewWriterSize(conn, rawBuf)
	out, in := make([]byte, 4+s.Size), make([]byte, 4+s.Size)
	binary.BigEndian.PutUint32(out, uint32(s.Size))
	return timeTrips(ctx, s, c, func(_ context.Context, p []byte) ([]byte, error) {
		copy(out[4:], p)
		w.Write(out)
		if err := w.Flush(); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, in); err != nil {
			return nil, err
		}
		return in[4:], nil
	})
}

// timeTrips makes warmTrips untimed and then s.Count timed round trips,
// checking that each reply is the request's.
func timeTrips(ctx context.Context, s spec, c *childIO, call func(context.Context, []byte) ([]byte, error)) (childResult, error) {
	p := make([]byte, s.Size)
	for range warmTrips {
		if _, err := call(ctx, p); err != nil {
			return childResult{}, err
		}
	}
	var h histogram
	start := time.Now()
	for i := 0; i < s.Count; i++ {
		binary.BigEndian.PutUint64(p, uint64(i))
		t := time.Now()
		b, err := call(ctx, p)
		if err != nil {
			return childResult{}, err
		}
		h.Record(time.Since(t))
		if len(b) < 8 || binary.BigEndian.Uint64(b) != uint64(i) {
			return childResult{}, fmt.Errorf("reply %d is not its request's", i)
		}
	}
	return childResult{Received: uint64(s.Count), ElapsedNs: int64(time.Since(start)), Latency: latencyOf(&h)}, nil
}

// noDelay turns Nagle's algorithm off on a TCP connection (unix sockets have none).
func noDelay(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
}
