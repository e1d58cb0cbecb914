//go:build !unix

package bench

import (
	"os"
	"time"
)

// UsageAvailable says whether this platform reports CPU time and peak RSS.
const UsageAvailable = false

// ProcessCPU is unavailable here: 0.
func ProcessCPU() time.Duration { return 0 }

// childUsage is unavailable here: the table shows "-".
func childUsage(*os.ProcessState) (time.Duration, int64) { return 0, 0 }

// peakRSS is unavailable here: 0.
func peakRSS() int64 { return 0 }
