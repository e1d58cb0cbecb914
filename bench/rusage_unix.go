//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// UsageAvailable says whether this platform reports CPU time and peak RSS.
const UsageAvailable = true

// ProcessCPU is this process's user+system CPU time so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childUsage is a finished child's CPU time (user+system) and peak RSS in
// bytes, from the rusage wait4 returned for it.
func childUsage(ps *os.ProcessState) (cpu time.Duration, rss int64) {
	cpu = ps.UserTime() + ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss)
		if runtime.GOOS != "darwin" && runtime.GOOS != "ios" {
			rss *= 1024 // kilobytes everywhere but on Apple systems
		}
	}
	return cpu, rss
}
