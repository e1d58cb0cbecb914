package bench

import (
	"syscall"
	"time"
)

// sleepFor sleeps d with the kernel's own timer (nanosleep), as the C
// anchor's pacer does, so that a paced Go sender keeps the same schedule
// as the C one. time.Sleep wakes only at the runtime's next timer check:
// about 1.1 ms on an otherwise idle 2-core VM whatever the d asked for, so
// a Go sender paced by it sent bursts of ~1 ms worth of messages (440 at
// 400k msgs/s) where the C sender sent ~50.
func sleepFor(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
