package pirate_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/patterns/pirate"
	"github.com/zmqkit/zmqkit/sockets"
)

// Test timing: a heartbeat every 100 ms, three missed mean dead. A worker
// is dropped when its liveness window ends; detect adds slack for a loaded
// machine under -race.
const (
	hb       = 100 * time.Millisecond
	liveness = 3
	window   = hb * liveness
	detect   = window + 600*time.Millisecond
)

func fast() []pirate.Option {
	return []pirate.Option{
		pirate.WithHeartbeat(hb, liveness),
		pirate.WithReconnect(20*time.Millisecond, 200*time.Millisecond),
	}
}

type runningBroker struct {
	*pirate.Broker
	front, back string
	cancel      context.CancelFunc
	done        chan error
}

// stop ends Run and returns what it returned.
func (b *runningBroker) stop(t *testing.T) error {
	t.Helper()
	b.cancel()
	select {
	case err := <-b.done:
		b.done <- err
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("broker Run did not return within 5s of cancel")
		return nil
	}
}

// startBroker runs a broker on front and back (tcp://127.0.0.1:0 if empty).
func startBroker(t *testing.T, front, back string, opts ...pirate.Option) *runningBroker {
	t.Helper()
	if front == "" {
		front = "tcp://127.0.0.1:0"
	}
	if back == "" {
		back = "tcp://127.0.0.1:0"
	}
	b, err := pirate.NewBroker(append(fast(), opts...)...)
	require.NoError(t, err)
	fe, err := b.BindFrontend(front)
	if err != nil {
		b.Close()
		require.NoError(t, err)
	}
	be, err := b.BindBackend(back)
	if err != nil {
		b.Close()
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rb := &runningBroker{Broker: b, front: fe, back: be, cancel: cancel, done: make(chan error, 1)}
	go func() { rb.done <- b.Run(ctx) }()
	t.Cleanup(func() { rb.stop(t) })
	return rb
}

type runningWorker struct {
	*pirate.Worker
	cancel context.CancelFunc
	done   chan error
}

func (w *runningWorker) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("worker Run did not return within 5s of cancel")
	}
}

func startWorker(t *testing.T, backend string, h pirate.Handler, opts ...pirate.Option) *runningWorker {
	t.Helper()
	w, err := pirate.NewWorker(backend, h, append(fast(), opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rw := &runningWorker{Worker: w, cancel: cancel, done: make(chan error, 1)}
	go func() { rw.done <- w.Run(ctx) }()
	t.Cleanup(func() { rw.stop(t) })
	return rw
}

// named answers "<name>:<request>".
func named(name string) pirate.Handler {
	return func(_ context.Context, req [][]byte) ([][]byte, error) {
		return [][]byte{[]byte(name + ":" + string(req[0]))}, nil
	}
}

func newClient(t *testing.T, front string, opts ...pirate.Option) *pirate.Client {
	t.Helper()
	c, err := pirate.NewClient(front, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond every few milliseconds until it holds or d passes.
func eventually(t *testing.T, d time.Duration, cond func() bool, format string, args ...any) {
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

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rawWorker speaks PPP by hand on a DEALER: it checks the broker's side of
// the wire and can die or fall silent on cue.
type rawWorker struct {
	t *testing.T
	s *sockets.Socket
}

func newRawWorker(t *testing.T, backend, id string) *rawWorker {
	t.Helper()
	s, err := sockets.NewDealer(sockets.WithRoutingID([]byte(id)), sockets.WithLinger(0))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Dial(backend))
	return &rawWorker{t: t, s: s}
}

func (w *rawWorker) send(frames ...[]byte) {
	w.t.Helper()
	require.NoError(w.t, w.s.Send(testCtx(w.t, 2*time.Second), frames...))
}

// beat heartbeats the broker every hb until the returned stop is called.
func (w *rawWorker) beat() (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(hb)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				_ = w.s.Send(context.Background(), []byte{0x02})
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); <-done }) }
	w.t.Cleanup(stop)
	return stop
}

// recvRequest returns the next message that is not a heartbeat, counting
// the heartbeats it skipped.
func (w *rawWorker) recvRequest(ctx context.Context) ([][]byte, int, error) {
	beats := 0
	for {
		m, err := w.s.Recv(ctx)
		if err != nil {
			return nil, beats, err
		}
		if len(m) == 1 && len(m[0]) == 1 && m[0][0] == 0x02 {
			beats++
			continue
		}
		return m, beats, nil
	}
}

// logRecorder is a slog handler that keeps the records it is given.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// durations returns attribute key of every record with message msg.
func (l *logRecorder) durations(msg, key string) []time.Duration {
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

var errFail = errors.New("handler refuses")

func reqs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("r%d", i)
	}
	return out
}
