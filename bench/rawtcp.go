package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"time"
)

// The raw-TCP baseline is the ceiling: 4-byte length-prefixed messages
// over bufio on one loopback connection, one allocation per received
// message, no framing or queueing beyond that.

func tcpPair() (client, server net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	acc := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		acc <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	r := <-acc
	if r.err != nil {
		client.Close()
		return nil, nil, r.err
	}
	return client, r.c, nil
}

func rawTCPThroughput(ctx context.Context, size int, lim limits) Row {
	row := Row{System: "rawtcp", Pattern: "pushpull", Transport: "tcp", Size: size}
	cc, sc, err := tcpPair()
	if err != nil {
		row.Err = err.Error()
		return row
	}
	defer cc.Close()
	defer sc.Close()
	stop := context.AfterFunc(ctx, func() { cc.Close(); sc.Close() })
	defer stop()
	cpu0 := cpuTime()
	start := time.Now()
	type result struct {
		n       int
		elapsed time.Duration
	}
	sent := make(chan result, 1)
	go func() {
		w := bufio.NewWriterSize(cc, 64<<10)
		var hdr [4]byte
		i := 0
		for ; lim.more(i, start); i++ {
			p := make([]byte, size)
			binary.BigEndian.PutUint64(p, uint64(i))
			binary.BigEndian.PutUint32(hdr[:], uint32(size))
			w.Write(hdr[:])
			if _, err := w.Write(p); err != nil {
				break
			}
		}
		// A zero-length message marks the end.
		binary.BigEndian.PutUint32(hdr[:], 0)
		w.Write(hdr[:])
		w.Flush()
		sent <- result{i, time.Since(start)}
	}()
	r := bufio.NewReaderSize(sc, 64<<10)
	var hdr [4]byte
	var got uint64
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			row.Err = err.Error()
			break
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 {
			break
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			row.Err = err.Error()
			break
		}
		if binary.BigEndian.Uint64(buf) != got {
			row.Reordered++
		}
		got++
	}
	recvElapsed := time.Since(start)
	s := <-sent
	cpu := cpuTime() - cpu0
	row.Sent, row.Received = uint64(s.n), got
	if row.Received < row.Sent {
		row.Lost = row.Sent - row.Received
	}
	row.SendRate = float64(s.n) / s.elapsed.Seconds()
	row.RecvRate = float64(got) / recvElapsed.Seconds()
	row.SendMBps, row.RecvMBps = mb(row.SendRate, size), mb(row.RecvRate, size)
	if got > 0 {
		row.CPUPerMsg = float64(cpu.Nanoseconds()) / float64(got)
	}
	return row
}

func rawTCPLatency(ctx context.Context, size int, lim limits) Row {
	row := Row{System: "rawtcp", Pattern: "reqrep", Transport: "tcp", Size: size}
	cc, sc, err := tcpPair()
	if err != nil {
		row.Err = err.Error()
		return row
	}
	defer cc.Close()
	defer sc.Close()
	stop := context.AfterFunc(ctx, func() { cc.Close(); sc.Close() })
	defer stop()
	for _, c := range []net.Conn{cc, sc} {
		c.(*net.TCPConn).SetNoDelay(true)
	}
	done := make(chan struct{})
	go func() { // echo server
		defer close(done)
		r, w := bufio.NewReader(sc), bufio.NewWriter(sc)
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			w.Write(hdr[:])
			w.Write(buf)
			if w.Flush() != nil {
				return
			}
		}
	}()
	r, w := bufio.NewReader(cc), bufio.NewWriter(cc)
	call := func(_ context.Context, p []byte) ([]byte, error) {
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(p)))
		w.Write(hdr[:])
		w.Write(p)
		if err := w.Flush(); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	latency(ctx, call, size, lim, &row)
	cc.Close()
	<-done
	return row
}
