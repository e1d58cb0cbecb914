package majordomo_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/patterns/majordomo"
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

func fast() []majordomo.Option {
	return []majordomo.Option{
		majordomo.WithHeartbeat(hb, liveness),
		majordomo.WithReconnect(20*time.Millisecond, 200*time.Millisecond),
	}
}

// Frames as the spec writes them.
var (
	empty  = []byte{}
	mdpc   = []byte("MDPC01")
	mdpw   = []byte("MDPW01")
	ready  = []byte{0x01}
	reqCmd = []byte{0x02}
	repCmd = []byte{0x03}
	beat   = []byte{0x04}
	disc   = []byte{0x05}
)

func frames(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

type runningBroker struct {
	*majordomo.Broker
	ep     []string
	cancel context.CancelFunc
	done   chan error
}

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

// startBroker runs a broker bound to endpoints (tcp://127.0.0.1:0 if none).
func startBroker(t *testing.T, endpoints []string, opts ...majordomo.Option) *runningBroker {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = []string{"tcp://127.0.0.1:0"}
	}
	b, err := majordomo.NewBroker(append(fast(), opts...)...)
	require.NoError(t, err)
	rb := &runningBroker{Broker: b, done: make(chan error, 1)}
	for _, ep := range endpoints {
		bound, err := b.Bind(ep)
		if err != nil {
			b.Close()
			require.NoError(t, err)
		}
		rb.ep = append(rb.ep, bound)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rb.cancel = cancel
	go func() { rb.done <- b.Run(ctx) }()
	t.Cleanup(func() { rb.stop(t) })
	return rb
}

type runningWorker struct {
	*majordomo.Worker
	cancel context.CancelFunc
	done   chan error
}

func (w *runningWorker) stop(t *testing.T) error {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("worker Run did not return within 5s of cancel")
		return nil
	}
}

func startWorker(t *testing.T, endpoint, service string, h majordomo.Handler, opts ...majordomo.Option) *runningWorker {
	t.Helper()
	w, err := majordomo.NewWorker(endpoint, service, h, append(fast(), opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rw := &runningWorker{Worker: w, cancel: cancel, done: make(chan error, 1)}
	go func() { rw.done <- w.Run(ctx) }()
	t.Cleanup(func() { rw.stop(t) })
	return rw
}

// echo answers "<name>:<first frame>".
func echo(name string) majordomo.Handler {
	return func(_ context.Context, req [][]byte) ([][]byte, error) {
		return [][]byte{[]byte(name + ":" + string(req[0]))}, nil
	}
}

func newClient(t *testing.T, endpoint string, opts ...majordomo.Option) *majordomo.Client {
	t.Helper()
	c, err := majordomo.NewClient(endpoint, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

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

// newSocket makes a raw socket, closed at cleanup, dialled to endpoint.
func newSocket(t *testing.T, typ sockets.Type, endpoint string, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.New(typ, append([]sockets.Option{sockets.WithLinger(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	if endpoint != "" {
		require.NoError(t, s.Dial(endpoint))
	}
	return s
}

// rawWorker speaks MDP/Worker by hand on a DEALER, frames built from the
// spec, so that the broker's side of the wire is what is checked.
type rawWorker struct {
	t *testing.T
	s *sockets.Socket
}

func newRawWorker(t *testing.T, endpoint, id string) *rawWorker {
	t.Helper()
	return &rawWorker{t: t, s: newSocket(t, sockets.Dealer, endpoint, sockets.WithRoutingID([]byte(id)))}
}

func (w *rawWorker) send(f ...[]byte) {
	w.t.Helper()
	require.NoError(w.t, w.s.Send(testCtx(w.t, 2*time.Second), f...))
}

func (w *rawWorker) ready(service string) { w.send(empty, mdpw, ready, []byte(service)) }

// beat sends HEARTBEAT every hb until the returned stop is called.
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
				_ = w.s.Send(context.Background(), empty, mdpw, beat)
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); <-done }) }
	w.t.Cleanup(stop)
	return stop
}

// next returns the next message that is not an exact HEARTBEAT command,
// and how many heartbeats it skipped.
func (w *rawWorker) next(ctx context.Context) ([][]byte, int, error) {
	beats := 0
	for {
		m, err := w.s.Recv(ctx)
		if err != nil {
			return nil, beats, err
		}
		if len(m) == 3 && len(m[0]) == 0 && string(m[1]) == "MDPW01" && string(m[2]) == "\x04" {
			beats++
			continue
		}
		return m, beats, nil
	}
}

// request waits for a REQUEST, checks its layout and returns the client
// address and the body.
func (w *rawWorker) request(ctx context.Context) (client []byte, body [][]byte) {
	w.t.Helper()
	m, _, err := w.next(ctx)
	require.NoError(w.t, err)
	require.GreaterOrEqual(w.t, len(m), 6, "REQUEST frames: %q", m)
	assert.Equal(w.t, empty, m[0], "frame 0: empty")
	assert.Equal(w.t, mdpw, m[1], "frame 1: MDPW01")
	assert.Equal(w.t, reqCmd, m[2], "frame 2: REQUEST")
	assert.NotEmpty(w.t, m[3], "frame 3: client address")
	assert.Equal(w.t, empty, m[4], "frame 4: empty delimiter")
	return m[3], m[5:]
}

func (w *rawWorker) reply(client []byte, body ...[]byte) {
	w.send(append([][]byte{empty, mdpw, repCmd, client, empty}, body...)...)
}

// expectDisconnect waits for a DISCONNECT command.
func (w *rawWorker) expectDisconnect() {
	w.t.Helper()
	m, _, err := w.next(testCtx(w.t, 3*time.Second))
	require.NoError(w.t, err)
	assert.Equal(w.t, [][]byte{empty, mdpw, disc}, m)
}

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
