package pirate_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
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

// fastBroker and fastWorker are the test timing as each role's options.
func fastBroker() []pirate.BrokerOption {
	return []pirate.BrokerOption{pirate.WithHeartbeat(hb, liveness)}
}

func fastWorker() []pirate.WorkerOption {
	return []pirate.WorkerOption{
		pirate.WithHeartbeat(hb, liveness),
		pirate.WithReconnect(20*time.Millisecond, 200*time.Millisecond),
	}
}

type runningBroker struct {
	*pirate.Broker
	*testutil.Running
	front, back string
}

// startBroker runs a broker on front and back (tcp://127.0.0.1:0 if empty).
func startBroker(t *testing.T, front, back string, opts ...pirate.BrokerOption) *runningBroker {
	t.Helper()
	if front == "" {
		front = "tcp://127.0.0.1:0"
	}
	if back == "" {
		back = "tcp://127.0.0.1:0"
	}
	b, err := pirate.NewBroker(append(fastBroker(), opts...)...)
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
	return &runningBroker{Broker: b, Running: testutil.Go(t, "broker", b.Run), front: fe, back: be}
}

type runningWorker struct {
	*pirate.Worker
	*testutil.Running
}

func startWorker(t *testing.T, backend string, h pirate.Handler, opts ...pirate.WorkerOption) *runningWorker {
	t.Helper()
	w, err := pirate.NewWorker(backend, h, append(fastWorker(), opts...)...)
	require.NoError(t, err)
	return &runningWorker{Worker: w, Running: testutil.Go(t, "worker", w.Run)}
}

// named answers "<name>:<request>".
func named(name string) pirate.Handler {
	return func(_ context.Context, req [][]byte) ([][]byte, error) {
		return [][]byte{[]byte(name + ":" + string(req[0]))}, nil
	}
}

func newClient(t *testing.T, front string, opts ...pirate.ClientOption) *pirate.Client {
	t.Helper()
	c, err := pirate.NewClient(front, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// Short names for the shared helpers: eventually polls a condition until
// it holds, testCtx is a context bounded by the test.
var (
	eventually = testutil.Eventually
	testCtx    = testutil.Context
)

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
	return testutil.Every(w.t, hb, func() { _ = w.s.Send(context.Background(), []byte{0x02}) })
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
type logRecorder = testutil.LogRecorder

var errFail = errors.New("handler refuses")

func reqs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("r%d", i)
	}
	return out
}
