package sockets_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/codec/msgpack"
	"github.com/zmqkit/zmqkit/sockets"
)

type benchRecord struct {
	Seq  int    `json:"seq" msgpack:"seq"`
	Body string `json:"body" msgpack:"body"`
}

// BenchmarkTyped compares PushOf/PullOf with JSON and msgpack against the
// raw sockets carrying payloads of the same encoded size, over tcp.
func BenchmarkTyped(b *testing.B) {
	for _, size := range []int{128, 1024} {
		rec := benchRecord{Seq: 1, Body: strings.Repeat("x", size-24)}
		b.Run(fmt.Sprintf("raw/%dB", size), func(b *testing.B) {
			benchPushPull(b, "tcp://127.0.0.1:0", size, nil, nil)
		})
		b.Run(fmt.Sprintf("json/%dB", size), func(b *testing.B) { benchTyped(b, codec.JSON[benchRecord](), rec) })
		b.Run(fmt.Sprintf("msgpack/%dB", size), func(b *testing.B) { benchTyped(b, msgpack.Codec[benchRecord](), rec) })
	}
}

func benchTyped(b *testing.B, c codec.Codec[benchRecord], rec benchRecord) {
	ctx := context.Background()
	pull, err := sockets.NewPullOf(c)
	if err != nil {
		b.Fatal(err)
	}
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	push, err := sockets.NewPushOf(c)
	if err != nil {
		b.Fatal(err)
	}
	defer push.Close()
	if err := push.Dial(addr); err != nil {
		b.Fatal(err)
	}
	enc, _ := codec.Encode(c, rec)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		r := rec
		for i := 0; i < b.N; i++ {
			r.Seq = i
			if err := push.Send(ctx, r); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		v, err := pull.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if v.Seq != i {
			b.Fatalf("got seq %d, want %d", v.Seq, i)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
