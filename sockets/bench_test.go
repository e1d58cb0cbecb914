package sockets_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/zmqkit/zmqkit/sockets"
)

var benchSizes = []int{128, 1024, 10240}

// BenchmarkPushPull measures one PUSH sending to one PULL, b.N messages.
func BenchmarkPushPull(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc", "inproc"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", tr, size), func(b *testing.B) {
				var ep string
				switch tr {
				case "tcp":
					ep = "tcp://127.0.0.1:0"
				case "ipc":
					ep = "ipc://" + b.TempDir() + "/bench"
				default:
					ep = fmt.Sprintf("inproc://bench-%d", size)
				}
				benchPushPull(b, ep, size, nil, nil)
			})
		}
	}
}

// BenchmarkPushPullSecure is PUSH→PULL over tcp with PLAIN (authenticated,
// not encrypted: the cost should be nil after the handshake) and CURVE
// (every frame sealed and opened).
func BenchmarkPushPullSecure(b *testing.B) {
	srv, err := sockets.NewCurveKeypair()
	if err != nil {
		b.Fatal(err)
	}
	cli, err := sockets.NewCurveKeypair()
	if err != nil {
		b.Fatal(err)
	}
	mechs := []struct {
		name string
		pull sockets.Option
		push sockets.Option
	}{
		{"plain", sockets.WithPlainServer(func(u, p string) bool { return true }), sockets.WithPlain("u", "p")},
		{"curve", sockets.WithCurveServer(srv, nil), sockets.WithCurve(srv.Public, cli)},
	}
	for _, m := range mechs {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", m.name, size), func(b *testing.B) {
				benchPushPull(b, "tcp://127.0.0.1:0", size, m.pull, m.push)
			})
		}
	}
}

// benchPushPull measures PUSH→PULL over ep; pullOpt and pushOpt, if not
// nil, configure the two sockets.
func benchPushPull(b *testing.B, ep string, size int, pullOpt, pushOpt sockets.Option) {
	ctx := context.Background()
	pull, err := sockets.NewPull(optional(pullOpt)...)
	if err != nil {
		b.Fatal(err)
	}
	defer pull.Close()
	addr, err := pull.Listen(ep)
	if err != nil {
		b.Fatal(err)
	}
	push, err := sockets.NewPush(optional(pushOpt)...)
	if err != nil {
		b.Fatal(err)
	}
	defer push.Close()
	if err := push.Dial(addr); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	// one message to settle the connection
	if err := push.Send(ctx, payload); err != nil {
		b.Fatal(err)
	}
	if _, err := pull.Recv(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if err := push.Send(ctx, payload); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		m, err := pull.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(m[0]) != size {
			b.Fatalf("got %d bytes", len(m[0]))
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRawTCP is the ceiling: length-prefixed messages over bufio on a
// loopback TCP connection, one reader goroutine, no framing beyond that.
func BenchmarkRawTCP(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			cc, sc := loopbackPair(b)
			payload := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			done := make(chan error, 1)
			go func() {
				w := bufio.NewWriterSize(cc, 64<<10)
				var hdr [4]byte
				for i := 0; i < b.N; i++ {
					binary.BigEndian.PutUint32(hdr[:], uint32(size))
					w.Write(hdr[:])
					w.Write(payload)
				}
				done <- w.Flush()
			}()
			r := bufio.NewReaderSize(sc, 64<<10)
			var hdr [4]byte
			for i := 0; i < b.N; i++ {
				if _, err := io.ReadFull(r, hdr[:]); err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
				if _, err := io.ReadFull(r, buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkLoopbackStream is what one loopback TCP connection carries with
// no messaging at all: one goroutine writes 64 KiB blocks, another reads
// them. "reused" keeps one buffer a side; "fresh" takes new memory for every
// block, as a library handing out owned messages must. The msgs/s metric is
// the bytes moved expressed as 10 KiB messages, the ceiling for that row of
// zmqkit bench.
func BenchmarkLoopbackStream(b *testing.B) {
	const block = 64 << 10
	for _, fresh := range []bool{false, true} {
		name := "reused"
		if fresh {
			name = "fresh"
		}
		b.Run(name, func(b *testing.B) {
			cc, sc := loopbackPair(b)
			b.SetBytes(block)
			b.ResetTimer()
			done := make(chan error, 1)
			go func() {
				buf := make([]byte, block)
				for i := 0; i < b.N; i++ {
					if fresh {
						buf = make([]byte, block)
					}
					if _, err := cc.Write(buf); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			buf := make([]byte, block)
			for got := 0; got < b.N*block; {
				if fresh {
					buf = make([]byte, block)
				}
				n, err := sc.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)*block/10240/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// loopbackPair is a connected pair of loopback TCP connections, closed when
// the benchmark ends.
func loopbackPair(b *testing.B) (client, server net.Conn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server = <-acc
	if server == nil {
		client.Close()
		b.Fatal("accept failed")
	}
	b.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func optional(o sockets.Option) []sockets.Option {
	if o == nil {
		return nil
	}
	return []sockets.Option{o}
}
