// Package testutil holds helpers the tests of several packages share:
// waiting for a condition, contexts bounded by a test, a free tcp port,
// running a component's Run in the background, doing something
// periodically, and recording log records.
package testutil

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// stopTimeout is how long Running.Stop waits for Run to return.
const stopTimeout = 5 * time.Second

// Eventually polls cond every few milliseconds until it holds, and fails t
// with the message format, args if d passes first.
func Eventually(t testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: "+format, append([]any{d}, args...)...)
		}
		<-tk.C
	}
}

// Context returns a context that ends after d or when t's test ends,
// whichever comes first.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// FreePort returns a tcp address on 127.0.0.1 that nothing listens on
// now: a port just freed, for a peer that is not there or an endpoint
// that must stay unbound.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("freeing %s: %v", addr, err)
	}
	return addr
}

// Running is a Run method running in the background for a test.
type Running struct {
	what   string
	cancel context.CancelFunc
	done   chan error // holds Run's result once it returned
}

// Go calls run in a goroutine with a context that Stop cancels; Stop is
// also called when t's test ends. what names the component in failures.
func Go(t testing.TB, what string, run func(context.Context) error) *Running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{what: what, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	t.Cleanup(func() { r.Stop(t) })
	return r
}

// Stop cancels Run's context and returns what Run returned; it fails t if
// Run does not return within 5 s. It may be called more than once.
func (r *Running) Stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(stopTimeout):
		t.Fatalf("%s Run did not return within %v of cancel", r.what, stopTimeout)
		return nil
	}
}

// Every calls f every interval in a goroutine until the returned stop is
// called, which also happens when t's test ends. stop waits for a call of
// f in progress and may be called more than once.
func Every(t testing.TB, interval time.Duration, f func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				f()
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); <-done }) }
	t.Cleanup(stop)
	return stop
}

// LogRecorder is a slog.Handler that keeps every record it is given. Its
// zero value is ready to use; it is safe for concurrent use.
type LogRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

// Enabled reports true: every level is recorded.
func (l *LogRecorder) Enabled(context.Context, slog.Level) bool { return true }

// Handle keeps a copy of r.
func (l *LogRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}

// WithAttrs returns l itself: attributes given to the logger are dropped.
func (l *LogRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }

// WithGroup returns l itself: groups are ignored.
func (l *LogRecorder) WithGroup(string) slog.Handler { return l }

// Records returns a copy of the records kept so far, in the order they
// were logged.
func (l *LogRecorder) Records() []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]slog.Record(nil), l.recs...)
}

// Durations returns the attribute key, as a duration, of every record
// whose message is msg, in the order they were logged.
func (l *LogRecorder) Durations(msg, key string) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				out = append(out, a.Value.Duration())
			}
			return true
		})
	}
	return out
}
