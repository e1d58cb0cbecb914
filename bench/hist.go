package bench

import (
	"math"
	"math/bits"
	"time"
)

// histogram records durations in log-spaced buckets: values below 128 ns
// exactly, larger ones in 128 buckets per power of two, so a percentile is
// within 1 % of the recorded value (bucket width / value ≤ 1/128). It
// replaces hdrhistogram, which was the bench's largest dependency for
// one percentile call. The zero value is ready to use.
type histogram struct {
	counts     []uint64
	n          uint64
	sum        float64
	minV, maxV int64
}

const subBuckets = 128 // per power of two; log2(128) = 7

func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - 8 // v>>shift is in [128, 256)
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketMid is the middle of bucket i's range of values.
func bucketMid(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	shift := i/subBuckets - 1
	lo := int64(i%subBuckets+subBuckets) << shift
	return lo + (int64(1)<<shift)/2
}

// Record adds one duration; negative ones count as zero.
func (h *histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	i := bucketOf(v)
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	if h.n == 0 || v < h.minV {
		h.minV = v
	}
	h.maxV = max(h.maxV, v)
	h.n++
	h.sum += float64(v)
}

// Count is the number of recorded values.
func (h *histogram) Count() uint64 { return h.n }

// Max is the largest recorded value, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.maxV) }

// Mean is the average of the recorded values.
func (h *histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Percentile is the value below which p percent (0–100) of the recorded
// values lie, to within 1 %; 0 for an empty histogram.
func (h *histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := bucketMid(i)
			return time.Duration(min(max(v, h.minV), h.maxV))
		}
	}
	return time.Duration(h.maxV)
}

// latencyOf summarises h in microseconds.
func latencyOf(h *histogram) *Latency {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return &Latency{
		Count: int64(h.Count()),
		P50:   us(h.Percentile(50)), P90: us(h.Percentile(90)),
		P99: us(h.Percentile(99)), P999: us(h.Percentile(99.9)),
		Max: us(h.Max()), Avg: us(h.Mean()),
	}
}
