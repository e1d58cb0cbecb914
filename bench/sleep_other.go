//go:build !linux

package bench

import "time"

// sleepFor sleeps d (see sleep_linux.go).
func sleepFor(d time.Duration) { time.Sleep(d) }
