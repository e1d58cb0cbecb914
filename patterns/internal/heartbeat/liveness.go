package heartbeat

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// Liveness is a worker's view of its broker during one connection: when
// it last heard from it and whether it heard it at all. It is safe for
// concurrent use.
type Liveness struct {
	window time.Duration
	last   atomic.Int64 // Unix nanoseconds
	heard  atomic.Bool
}

// NewLiveness starts the silence clock; the peer is taken for dead after
// window without a message.
func NewLiveness(window time.Duration) *Liveness {
	l := &Liveness{window: window}
	l.last.Store(time.Now().UnixNano())
	return l
}

// Heard records a message from the peer: the clock starts again, and the
// peer counts as heard.
func (l *Liveness) Heard() {
	l.last.Store(time.Now().UnixNano())
	l.heard.Store(true)
}

// Restart starts the clock again without counting the peer as heard, as
// when the connection comes up.
func (l *Liveness) Restart() { l.last.Store(time.Now().UnixNano()) }

// EverHeard reports whether Heard was called.
func (l *Liveness) EverHeard() bool { return l.heard.Load() }

// Watch restarts the clock each time events reports a connection, until
// ctx ends or events is closed: the silence clock starts when the
// connection is up, not when the socket was made.
func (l *Liveness) Watch(ctx context.Context, events <-chan sockets.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Kind == sockets.EventConnected {
				l.Restart()
			}
		}
	}
}

// Silence is a timer that fires when the peer may have been silent for a
// whole window. It belongs to the goroutine that waits on C.
type Silence struct {
	C <-chan time.Time // fires when Dead is to be asked

	l *Liveness
	t *time.Timer
}

// Silence starts a timer that fires a window from now.
func (l *Liveness) Silence() *Silence {
	t := time.NewTimer(l.window)
	return &Silence{C: t.C, l: l, t: t}
}

// Dead reports, once C has fired, whether the peer has been silent for a
// whole window; if it has not, it sets the timer for the window after the
// latest message.
func (s *Silence) Dead() bool {
	if d := time.Until(time.Unix(0, s.l.last.Load()).Add(s.l.window)); d > 0 {
		s.t.Reset(d)
		return false
	}
	return true
}

// Stop stops the timer.
func (s *Silence) Stop() { s.t.Stop() }
