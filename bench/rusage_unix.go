//go:build unix

package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
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
// bytes, from the rusage wait4 returned for it. On Linux that peak RSS is
// at least the parent's at the time of the fork (exec keeps the high-water
// mark of the memory it replaced), so children of ours report their own
// (peakRSS) and that figure is preferred.
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

// peakRSS is this process's peak RSS in bytes since it was executed: VmHWM
// on Linux; elsewhere getrusage's, which has no inherited part there.
func peakRSS() int64 {
	if runtime.GOOS == "linux" {
		f, err := os.Open("/proc/self/status")
		if err != nil {
			return 0
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					return 0
				}
				return kb * 1024
			}
		}
		return 0
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
