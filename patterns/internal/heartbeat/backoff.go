package heartbeat

import (
	"context"
	"time"
)

// Backoff is a worker's wait before it connects again: it starts at an
// initial interval and doubles after each wait, up to a cap, until Reset.
// It is not safe for concurrent use.
type Backoff struct {
	initial, max, next time.Duration
}

// NewBackoff returns a back-off that starts at initial and doubles up to
// max.
func NewBackoff(initial, max time.Duration) *Backoff {
	return &Backoff{initial: initial, max: max, next: initial}
}

// Next returns how long the next Wait waits.
func (b *Backoff) Next() time.Duration { return b.next }

// Reset starts the back-off again from its initial interval.
func (b *Backoff) Reset() { b.next = b.initial }

// Wait waits for the next interval and doubles it up to the cap; it
// returns ctx's cause at once if ctx ends first, and then leaves the
// interval as it was.
func (b *Backoff) Wait(ctx context.Context) error {
	t := time.NewTimer(b.next)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return context.Cause(ctx)
	}
	b.next = min(2*b.next, b.max)
	return nil
}
