package majordomo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
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

// fastBroker and fastWorker are the test timing as each role's options.
func fastBroker() []majordomo.BrokerOption {
	return []majordomo.BrokerOption{majordomo.WithHeartbeat(hb, liveness)}
}

func fastWorker() []majordomo.WorkerOption {
	return []majordomo.WorkerOption{
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
	*testutil.Running
	ep []string
}

// startBroker runs a broker bound to endpoints (tcp://127.0.0.1:0 if none).
func startBroker(t *testing.T, endpoints []string, opts ...majordomo.BrokerOption) *runningBroker {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = []string{"tcp://127.0.0.1:0"}
	}
	b, err := majordomo.NewBroker(append(fastBroker(), opts...)...)
	require.NoError(t, err)
	rb := &runningBroker{Broker: b}
	for _, ep := range endpoints {
		bound, err := b.Bind(ep)
		if err != nil {
			b.Close()
			require.NoError(t, err)
		}
		rb.ep = append(rb.ep, bound)
	}
	rb.Running = testutil.Go(t, "broker", b.Run)
	return rb
}

type runningWorker struct {
	*majordomo.Worker
	*testutil.Running
}

func startWorker(t *testing.T, endpoint, service string, h majordomo.Handler, opts ...majordomo.WorkerOption) *runningWorker {
	t.Helper()
	w, err := majordomo.NewWorker(endpoint, service, h, append(fastWorker(), opts...)...)
	require.NoError(t, err)
	return &runningWorker{Worker: w, Running: testutil.Go(t, "worker", w.Run)}
}

// echo answers "<name>:<first frame>".
func echo(name string) majordomo.Handler {
	return func(_ context.Context, req [][]byte) ([][]byte, error) {
		return [][]byte{[]byte(name + ":" + string(req[0]))}, nil
	}
}

func newClient(t *testing.T, endpoint string, opts ...majordomo.ClientOption) *majordomo.Client {
	t.Helper()
	c, err := majordomo.NewClient(endpoint, opts...)
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
	return testutil.Every(w.t, hb, func() { _ = w.s.Send(context.Background(), empty, mdpw, beat) })
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

type logRecorder = testutil.LogRecorder

var errFail = errors.New("handler refuses")
