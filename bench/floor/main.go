// Command floor measures what a Go sender and receiver pay per message
// with nothing of a messaging library but the rules it must keep: a new
// buffer for every message (the sender's code makes one per send; a
// receiver hands each message out in memory of its own) and, on the
// sending side, a queue of up to QUEUE messages (a socket at its HWM:
// Send returns once the message is queued), written by a goroutine of its
// own that gathers what it finds queued into one writev. Frames are a
// 4-byte length and the payload; there is no greeting, routing, bound or
// accounting. It is the measuring stick for the claims in the README's
// Speed section that a target is out of reach for any Go library: run it
// in two processes beside libzmq's perf tools and zmqkit's.
//
//	go run ./bench/floor recv 127.0.0.1:5555 COUNT [QUEUE]
//	go run ./bench/floor send 127.0.0.1:5555 SIZE COUNT QUEUE
//
// recv prints libzmq's local_thr lines (rate from the first message to the
// last). With QUEUE, recv reads ahead in a goroutine of its own into a
// channel of QUEUE messages, as a socket's reader does up to its receive
// HWM; a channel hands messages over one by one, where a library can hand
// them over in batches, so that variant is an upper bound on the hand-off's
// cost, not a floor.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage: floor recv ADDR COUNT [QUEUE] | floor send ADDR SIZE COUNT QUEUE")

func run(args []string) error {
	if len(args) < 3 {
		return errUsage
	}
	var nums []int // the arguments after ADDR, all positive numbers
	for _, a := range args[2:] {
		v, err := strconv.Atoi(a)
		if err != nil {
			return err
		}
		if v <= 0 {
			return fmt.Errorf("%s: want a positive number", a)
		}
		nums = append(nums, v)
	}
	switch {
	case args[0] == "recv" && len(nums) <= 2:
		queue := 0
		if len(nums) == 2 {
			queue = nums[1]
		}
		ln, err := net.Listen("tcp", args[1])
		if err != nil {
			return err
		}
		return recv(ln, nums[0], queue, os.Stdout)
	case args[0] == "send" && len(nums) == 3:
		return send(args[1], nums[0], nums[1], nums[2])
	}
	return errUsage
}

// recv takes one connection on ln, receives count messages and writes
// local_thr's lines to w.
func recv(ln net.Listener, count, queue int, w io.Writer) error {
	conn, err := ln.Accept()
	ln.Close()
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 256<<10)
	var hdr [4]byte
	read := func() ([]byte, error) {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		m := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		_, err := io.ReadFull(r, m)
		return m, err
	}
	next := read
	if queue > 0 {
		type item struct {
			m   []byte
			err error
		}
		q := make(chan item, queue)
		go func() {
			for range count {
				m, err := read()
				q <- item{m, err}
				if err != nil {
					return
				}
			}
		}()
		next = func() ([]byte, error) {
			it := <-q
			return it.m, it.err
		}
	}
	var start time.Time
	size := 0
	for i := range count {
		m, err := next()
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if i == 0 {
			start, size = time.Now(), len(m)
		}
	}
	elapsed := max(time.Since(start), time.Microsecond)
	rate := float64(count) / elapsed.Seconds()
	fmt.Fprintf(w, "message size: %d [B]\nmessage count: %d\n", size, count)
	fmt.Fprintf(w, "mean throughput: %d [msg/s]\nmean throughput: %.3f [Mb/s]\n", int64(rate), rate*float64(size)*8/1e6)
	return nil
}

func send(addr string, size, count, queue int) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	q := make(chan []byte, queue)
	done := make(chan error, 1)
	go func() {
		done <- write(conn, q)
	}()
	for range count {
		select {
		case q <- make([]byte, size):
		case err := <-done:
			return err
		}
	}
	close(q)
	return <-done
}

// write sends what q brings, each message after its length, gathering
// what is queued (up to 128 messages) into one writev.
func write(conn net.Conn, q <-chan []byte) error {
	var bufs net.Buffers
	hdrs := make([]byte, 4*128)
	add := func(m []byte) {
		h := hdrs[2*len(bufs):][:4]
		binary.BigEndian.PutUint32(h, uint32(len(m)))
		bufs = append(bufs, h, m)
	}
	for m := range q {
		bufs = bufs[:0]
		add(m)
	gather:
		for len(bufs) < 2*128 {
			select {
			case m, ok := <-q:
				if !ok {
					break gather
				}
				add(m)
			default:
				break gather
			}
		}
		b := bufs
		if _, err := b.WriteTo(conn); err != nil {
			return err
		}
		clear(bufs[:cap(bufs)])
	}
	return nil
}
