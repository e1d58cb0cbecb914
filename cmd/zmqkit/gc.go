package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

// benchGC sets the Go garbage collector up for a benchmark run and says how.
//
// A throughput run allocates every message twice (the sender builds it, the
// receiver's buffers hold it): at 10 KiB and 300 k msgs/s that is 6 GB/s of
// garbage. With Go's default (GOGC=100 over a heap of a few MiB) the
// collector then runs hundreds of times a second and the runtime hands pages
// back to the kernel only to fault them in again; the measured rates become
// rates of the collector, for zmqkit, the raw-TCP ceiling and the Redis and
// AMQP clients alike. So, unless GOGC or GOMEMLIMIT is set in the
// environment, the bench runs as a Go service tuned for throughput would:
// collection driven by a soft memory limit (GOGC=off, GOMEMLIMIT=256MiB), as
// the Go GC guide describes. Messages above 64 KiB could hold more than that
// in flight, so runs with them keep Go's defaults. Run with GOGC=100 to see
// the defaults' figures.
func benchGC(maxSize int) string {
	if g, l := os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"); g != "" || l != "" {
		return fmt.Sprintf("Go GC: GOGC=%s GOMEMLIMIT=%s, from the environment", orDefault(g, "100"), orDefault(l, "none"))
	}
	if maxSize > 64<<10 {
		return "Go GC: Go's defaults (GOGC=100), as messages over 64 KiB are measured"
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(256 << 20)
	return "Go GC: GOGC=off GOMEMLIMIT=256MiB (zmqkit bench's default; set GOGC or GOMEMLIMIT to choose)"
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
