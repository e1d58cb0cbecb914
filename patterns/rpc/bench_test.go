package rpc_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmqkit/zmqkit/patterns/rpc"
)

// BenchmarkCall measures calls per second through one client socket to an
// echo server, 128-byte payloads, with 1 and 64 calls in flight (that many
// goroutines calling in a loop).
//
//	go test -run '^$' -bench Call -benchmem ./patterns/rpc
func BenchmarkCall(b *testing.B) {
	for _, tr := range []string{"tcp", "inproc"} {
		for _, inflight := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/inflight=%d", tr, inflight), func(b *testing.B) {
				benchCalls(b, tr, inflight)
			})
		}
	}
}

func benchCalls(b *testing.B, tr string, inflight int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, c, _ := pair(b, tr, func(s *rpc.Server) { s.Handle("echo", echo) })
	payload := bytes.Repeat([]byte("x"), 128)
	if _, err := c.Call(ctx, "echo", payload); err != nil { // connected
		b.Fatal(err)
	}

	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := c.Call(ctx, "echo", payload); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
}
