package heartbeat

import (
	"context"
	"time"
)

// Tick runs a broker's housekeeping until ctx ends. It calls housekeep
// once per interval with beat true, and in between at the time housekeep
// last returned, if that comes first (at least a millisecond later), with
// beat false; nextBeat is when the following beat is due. housekeep does
// its own locking.
func Tick(ctx context.Context, interval time.Duration, housekeep func(now time.Time, beat bool, nextBeat time.Time) time.Time) {
	t := time.NewTimer(interval)
	defer t.Stop()
	nextBeat := time.Now().Add(interval)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			beat := !now.Before(nextBeat)
			if beat {
				nextBeat = now.Add(interval)
			}
			next := housekeep(now, beat, nextBeat)
			t.Reset(max(time.Until(next), time.Millisecond))
		}
	}
}
