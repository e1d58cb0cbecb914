package reliable_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// Short names for the shared helpers.
var (
	testCtx    = testutil.Context
	eventually = testutil.Eventually
)

// server is a REP server answering "name:request", or what h says.
type server struct {
	addr   string
	rep    *sockets.RepOf[string, string]
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	calls  atomic.Int64
}

type handler = func(ctx context.Context, req string) (string, error)

func startServer(t *testing.T, endpoint, name string, h handler) *server {
	t.Helper()
	if h == nil {
		h = func(_ context.Context, req string) (string, error) { return name + ":" + req, nil }
	}
	rep, err := sockets.NewRepOf(codec.String(), codec.String(), sockets.WithLinger(0))
	require.NoError(t, err)
	addr, err := rep.Listen(endpoint)
	if err != nil {
		rep.Close()
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{addr: addr, rep: rep, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- rep.Serve(ctx, func(ctx context.Context, req string) (string, error) {
			s.calls.Add(1)
			return h(ctx, req)
		})
	}()
	t.Cleanup(s.stop)
	return s
}

// stop kills the server: its socket closes, its connections drop.
func (s *server) stop() {
	s.once.Do(func() {
		s.cancel()
		_ = s.rep.Close()
		<-s.done
	})
}

// deaf is a server that takes requests and never answers.
type deaf struct {
	addr     string
	sock     *sockets.Socket
	requests atomic.Int64
	done     chan struct{}
}

func startDeaf(t *testing.T) *deaf {
	t.Helper()
	r, err := sockets.NewRouter(sockets.WithLinger(0))
	require.NoError(t, err)
	addr, err := r.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	d := &deaf{addr: addr, sock: r, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for {
			if _, err := r.Recv(context.Background()); err != nil {
				return
			}
			d.requests.Add(1)
		}
	}()
	t.Cleanup(func() { _ = r.Close(); <-d.done })
	return d
}

// deadEndpoint is a tcp endpoint where nothing listens.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	s, err := sockets.NewRep()
	require.NoError(t, err)
	addr, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	return addr
}
