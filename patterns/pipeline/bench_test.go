package pipeline_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zmqkit/zmqkit/patterns/pipeline"
)

// u64 sends a uint64 as 8 bytes, so the benchmark measures the pattern and
// not a codec.
type u64 struct{}

func (u64) Name() string { return "u64" }
func (u64) Marshal(v uint64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v), nil
}
func (u64) Unmarshal(b []byte, v *uint64) error {
	if len(b) != 8 {
		return fmt.Errorf("want 8 bytes, got %d", len(b))
	}
	*v = binary.BigEndian.Uint64(b)
	return nil
}

// BenchmarkPool measures task throughput through a ventilator and 1, 2 or
// 4 workers over tcp loopback: submit b.N trivial tasks, then Wait. That is
// the pattern's own cost per task (two messages and the bookkeeping), and
// with tasks this small the prefetch window, through the round trip, is
// what limits it.
func BenchmarkPool(b *testing.B) {
	for _, prefetch := range []int{pipeline.DefaultPrefetch, 256} {
		b.Run(fmt.Sprintf("prefetch=%d", prefetch), func(b *testing.B) { benchPool(b, prefetch, 0) })
	}
}

// BenchmarkPoolWaiting is BenchmarkPool with tasks that wait 200 µs on a
// timer, as tasks doing I/O would: there the workers add up.
func BenchmarkPoolWaiting(b *testing.B) { benchPool(b, pipeline.DefaultPrefetch, 200*time.Microsecond) }

func benchPool(b *testing.B, prefetch int, work time.Duration) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			v, err := pipeline.NewVentilator[uint64, uint64](u64{}, u64{}, pipeline.WithDiscardResults(), pipeline.WithPrefetch(prefetch))
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			ep, err := v.Listen(pipeline.Endpoints{Tasks: "tcp://127.0.0.1:0", Results: "tcp://127.0.0.1:0"})
			if err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			for range workers {
				w, err := pipeline.NewWorker[uint64, uint64](u64{}, u64{})
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				if err := w.Dial(ep); err != nil {
					b.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = w.Run(ctx, func(ctx context.Context, n uint64) (uint64, error) {
						if work > 0 {
							t := time.NewTimer(work)
							defer t.Stop()
							select {
							case <-t.C:
							case <-ctx.Done():
								return 0, ctx.Err()
							}
						}
						return n * 2, nil
					})
				}()
			}
			if err := v.WaitWorkers(ctx, workers); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if _, err := v.Submit(ctx, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
			if err := v.Wait(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
			b.StopTimer()
			if st := v.Stats(); st.Completed != uint64(b.N) || st.Reissued != 0 {
				b.Fatalf("stats %+v", st)
			}
		})
	}
}

var benchPrefetch = 64
