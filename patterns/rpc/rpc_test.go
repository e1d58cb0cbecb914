package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/patterns/rpc"
	"github.com/zmqkit/zmqkit/sockets"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var endpointSeq atomic.Uint64

func endpoint(t testing.TB, transport string) string {
	switch transport {
	case "tcp":
		return "tcp://127.0.0.1:0"
	case "inproc":
		return fmt.Sprintf("inproc://rpc-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), endpointSeq.Add(1))
	}
	t.Fatalf("unknown transport %q", transport)
	return ""
}

var transports = []string{"tcp", "inproc"}

// testCtx is a context bounded by the test.
var testCtx = testutil.Context

// serve starts s.Run; the cleanup stops it (through ctx) and closes s.
// stop stops it earlier and returns Run's error.
func serve(t testing.TB, s *rpc.Server) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() {
		stop()
		s.Close()
	})
	return stop
}

// pair makes a running server with handlers from setup and a client
// dialed to it.
func pair(t testing.TB, tr string, setup func(*rpc.Server), opts ...rpc.ServerOption) (*rpc.Server, *rpc.Client, string) {
	s, err := rpc.NewServer(opts...)
	require.NoError(t, err)
	setup(s)
	addr, err := s.Listen(endpoint(t, tr))
	require.NoError(t, err)
	serve(t, s)
	c, err := rpc.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Dial(addr))
	return s, c, addr
}

func echo(_ context.Context, b []byte) ([]byte, error) { return b, nil }

// 64 calls in flight at once on one client socket each get their own reply.
// The handler holds every call until all 64 have arrived, so they really
// are in flight together.
func TestConcurrentCallsGetTheirOwnReplies(t *testing.T) {
	const n = 64
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := testCtx(t, 15*time.Second)
			var arrived sync.WaitGroup
			arrived.Add(n)
			all := make(chan struct{})
			go func() { arrived.Wait(); close(all) }()
			s, c, _ := pair(t, tr, func(s *rpc.Server) {
				s.Handle("echo", func(ctx context.Context, b []byte) ([]byte, error) {
					arrived.Done()
					select {
					case <-all:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
					return append([]byte("re:"), b...), nil
				})
			}, rpc.WithWorkers(n))

			var wg sync.WaitGroup
			errs := make([]error, n)
			got := make([]string, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, err := c.Call(ctx, "echo", []byte(fmt.Sprintf("call %d", i)))
					got[i], errs[i] = string(out), err
				}()
			}
			wg.Wait()
			for i := range n {
				require.NoError(t, errs[i], "call %d", i)
				assert.Equal(t, fmt.Sprintf("re:call %d", i), got[i])
			}
			st := c.Stats()
			assert.Equal(t, uint64(n), st.Calls)
			assert.Equal(t, uint64(n), st.Replies)
			assert.Zero(t, st.InFlight)
			assert.Zero(t, st.LateReplies)
			assert.Equal(t, uint64(n), s.Stats().Requests)
		})
	}
}

// Typed methods, declared once for both sides.
type operands struct{ A, B int }

var add = rpc.NewMethod("calc.add", codec.JSON[operands](), codec.JSON[int]())
var divide = rpc.NewMethod("calc.div", codec.JSON[operands](), codec.JSON[int]())

var errDivByZero = rpc.NewError(rpc.CodeUser+1, "division by zero")

func calc(s *rpc.Server) {
	rpc.Handle(s, add, func(_ context.Context, q operands) (int, error) { return q.A + q.B, nil })
	rpc.Handle(s, divide, func(_ context.Context, q operands) (int, error) {
		if q.B == 0 {
			return 0, errDivByZero
		}
		return q.A / q.B, nil
	})
}

func TestTypedMethods(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	_, c, _ := pair(t, "tcp", calc)
	sum, err := add.Call(ctx, c, operands{2, 40})
	require.NoError(t, err)
	assert.Equal(t, 42, sum)
	q, err := divide.Call(ctx, c, operands{84, 2})
	require.NoError(t, err)
	assert.Equal(t, 42, q)
	assert.Equal(t, "calc.add", add.Name())
}

// Handler errors come back as errors that errors.Is can tell apart.
func TestHandlerErrorsComeBackAsErrors(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	_, c, _ := pair(t, "inproc", func(s *rpc.Server) {
		calc(s)
		s.Handle("plain", func(context.Context, []byte) ([]byte, error) { return nil, errors.New("disk full") })
		s.Handle("panic", func(context.Context, []byte) ([]byte, error) { panic("oops") })
		s.Handle("coded", func(context.Context, []byte) ([]byte, error) {
			return nil, rpc.Errorf(rpc.CodeUser+7, "quota of %d exceeded", 10)
		})
	})
	cases := []struct {
		name    string
		call    func() error
		is      []error
		code    rpc.Code
		message string
	}{
		{"plain error", func() error { _, err := c.Call(ctx, "plain", nil); return err },
			[]error{rpc.ErrRemote}, rpc.CodeUnknown, "disk full"},
		{"declared error", func() error { _, err := divide.Call(ctx, c, operands{1, 0}); return err },
			[]error{rpc.ErrRemote, errDivByZero}, rpc.CodeUser + 1, "division by zero"},
		{"coded error", func() error { _, err := c.Call(ctx, "coded", nil); return err },
			[]error{rpc.ErrRemote, rpc.NewError(rpc.CodeUser+7, "")}, rpc.CodeUser + 7, "quota of 10 exceeded"},
		{"no such method", func() error { _, err := c.Call(ctx, "nope", nil); return err },
			[]error{rpc.ErrRemote, rpc.ErrNoMethod}, rpc.CodeNotFound, `no method "nope"`},
		{"panic", func() error { _, err := c.Call(ctx, "panic", nil); return err },
			[]error{rpc.ErrRemote, rpc.ErrInternal}, rpc.CodeInternal, "oops"},
		{"request does not decode", func() error { _, err := c.Call(ctx, add.Name(), []byte("{nope")); return err },
			[]error{rpc.ErrRemote, rpc.ErrBadRequest}, rpc.CodeBadRequest, "cannot decode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			for _, target := range tc.is {
				assert.ErrorIs(t, err, target)
			}
			assert.NotErrorIs(t, err, context.DeadlineExceeded)
			var re *rpc.RemoteError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, tc.code, re.Code)
			assert.Contains(t, re.Message, tc.message)
			// One remote error for every zmqkit package: a typed REQ's too.
			sre, ok := errors.AsType[*sockets.RemoteError](err)
			require.True(t, ok)
			assert.Equal(t, re.Message, sre.Msg)
			assert.ErrorIs(t, err, sockets.ErrRemote)
		})
	}
	assert.NotErrorIs(t, errDivByZero, rpc.NewError(rpc.CodeUser+2, ""))
	// The client is still fine.
	sum, err := add.Call(ctx, c, operands{1, 1})
	require.NoError(t, err)
	assert.Equal(t, 2, sum)
}

// A call whose deadline passes returns context.DeadlineExceeded promptly;
// the handler saw the same deadline and was stopped by it.
func TestDeadlineTravelsToTheServer(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	type seen struct {
		deadline time.Time
		ok       bool
		err      error
	}
	handled := make(chan seen, 1)
	s, c, _ := pair(t, "tcp", func(s *rpc.Server) {
		s.Handle("slow", func(ctx context.Context, _ []byte) ([]byte, error) {
			dl, ok := ctx.Deadline()
			<-ctx.Done() // works until told to stop
			handled <- seen{dl, ok, ctx.Err()}
			return nil, ctx.Err()
		})
	})

	const timeout = 300 * time.Millisecond
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	want, _ := cctx.Deadline()
	start := time.Now()
	_, err := c.Call(cctx, "slow", nil)
	elapsed := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, context.DeadlineExceeded, err, "ctx.Err() itself")
	assert.Less(t, elapsed, timeout+time.Second, "promptly")

	select {
	case h := <-handled:
		require.True(t, h.ok, "the handler's context has a deadline")
		assert.WithinDuration(t, want, h.deadline, 100*time.Millisecond)
		assert.ErrorIs(t, h.err, context.DeadlineExceeded, "and it ended the handler")
	case <-ctx.Done():
		t.Fatal("the handler never stopped")
	}
	require.Eventually(t, func() bool { return s.Stats().InFlight == 0 }, 5*time.Second, time.Millisecond)
}

// A request whose deadline passes while it waits for a worker is dropped
// without running. The only worker is held by a call that ends with its own,
// later, deadline; by then the queued call's deadline is long past on the
// server too (which counts from when the request arrived).
func TestExpiredRequestsAreNotStarted(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	var runs atomic.Int32
	busy := make(chan struct{}, 1)
	s, c, _ := pair(t, "inproc", func(s *rpc.Server) {
		s.Handle("block", func(ctx context.Context, _ []byte) ([]byte, error) {
			busy <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		})
		s.Handle("count", func(context.Context, []byte) ([]byte, error) { runs.Add(1); return nil, nil })
	}, rpc.WithWorkers(1))

	blocked := make(chan error, 1)
	go func() {
		bctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
		defer cancel()
		_, err := c.Call(bctx, "block", nil)
		blocked <- err
	}()
	<-busy // the only worker is taken

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := c.Call(short, "count", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, <-blocked, context.DeadlineExceeded)

	// A later call on the same worker shows the expired one was skipped.
	_, err = c.Call(ctx, "count", nil)
	require.NoError(t, err)
	assert.Equal(t, int32(1), runs.Load(), "the expired request never ran")
	assert.Equal(t, uint64(1), s.Stats().Expired)
}

// Canceling the caller's context cancels the handler's.
func TestCancelReachesTheHandler(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	started := make(chan struct{})
	stopped := make(chan error, 1)
	s, c, _ := pair(t, "tcp", func(s *rpc.Server) {
		s.Handle("wait", func(ctx context.Context, _ []byte) ([]byte, error) {
			close(started)
			<-ctx.Done()
			stopped <- ctx.Err()
			return nil, ctx.Err()
		})
	})
	cctx, cancel := context.WithCancel(ctx)
	go func() { <-started; cancel() }()
	_, err := c.Call(cctx, "wait", nil)
	require.ErrorIs(t, err, context.Canceled)
	select {
	case err := <-stopped:
		assert.ErrorIs(t, err, context.Canceled)
	case <-ctx.Done():
		t.Fatal("the handler was not canceled")
	}
	require.Eventually(t, func() bool { return s.Stats().Canceled == 1 }, 5*time.Second, time.Millisecond)
}

// blockUntilDone is a handler that works until its context ends.
func blockUntilDone(started *sync.WaitGroup) rpc.HandlerFunc {
	return func(ctx context.Context, _ []byte) ([]byte, error) {
		started.Done()
		<-ctx.Done()
		return nil, ctx.Err()
	}
}

// callsInFlight starts n calls to "block" with a long deadline and waits
// until the handlers run; it returns their errors and how long each took.
func callsInFlight(t *testing.T, ctx context.Context, c *rpc.Client, n int, started *sync.WaitGroup) (<-chan error, time.Time) {
	errs := make(chan error, n)
	started.Add(n)
	for range n {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 8*time.Second)
			defer cancel()
			_, err := c.Call(cctx, "block", nil)
			errs <- err
		}()
	}
	started.Wait()
	return errs, time.Now()
}

// A server stopped with calls in flight, then started again on the same
// endpoint: the calls fail at once with a clear error, long before their
// deadline, and the same client then works with the new server.
func TestServerStoppedAndRestarted(t *testing.T) {
	for _, mode := range []string{"closed", "shut down"} {
		t.Run(mode, func(t *testing.T) {
			ctx := testCtx(t, 20*time.Second)
			var started sync.WaitGroup
			s1, err := rpc.NewServer()
			require.NoError(t, err)
			s1.Handle("block", blockUntilDone(&started))
			addr, err := s1.Listen(endpoint(t, "tcp"))
			require.NoError(t, err)
			stop1 := serve(t, s1)
			c, err := rpc.NewClient()
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.Dial(addr))

			const n = 8
			errs, t0 := callsInFlight(t, ctx, c, n, &started)
			if mode == "closed" {
				require.NoError(t, s1.Close()) // as if the process died
				require.ErrorIs(t, stop1(), rpc.ErrClosed)
			} else {
				require.ErrorIs(t, stop1(), context.Canceled) // graceful: answers first
				require.NoError(t, s1.Close())
			}
			for range n {
				err := <-errs
				require.Error(t, err)
				assert.NotErrorIs(t, err, context.DeadlineExceeded)
				if mode == "closed" {
					assert.True(t, errors.Is(err, rpc.ErrConnectionLost) || errors.Is(err, rpc.ErrUnavailable), "clear error: %v", err)
				} else {
					assert.ErrorIs(t, err, rpc.ErrUnavailable)
				}
			}
			assert.Less(t, time.Since(t0), 4*time.Second, "well within the 8 s deadline")

			// A call made before the client noticed the old connection was
			// gone could have been written into it; wait for the notice.
			require.Eventually(t, func() bool { return c.Stats().Socket.Disconnects > 0 }, 5*time.Second, time.Millisecond)

			s2, err := rpc.NewServer()
			require.NoError(t, err)
			s2.Handle("echo", echo)
			_, err = s2.Listen(addr)
			require.NoError(t, err)
			serve(t, s2)
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			out, err := c.Call(cctx, "echo", []byte("again"))
			require.NoError(t, err)
			assert.Equal(t, "again", string(out))
		})
	}
}

// Close fails the calls in flight with ErrClosed and ends every goroutine
// of client and server.
func TestCloseEndsAllGoroutines(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	var started sync.WaitGroup
	s, err := rpc.NewServer()
	require.NoError(t, err)
	s.Handle("block", blockUntilDone(&started))
	addr, err := s.Listen(endpoint(t, "tcp"))
	require.NoError(t, err)
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(context.Background()) }()
	c, err := rpc.NewClient()
	require.NoError(t, err)
	require.NoError(t, c.Dial(addr))

	errs, _ := callsInFlight(t, ctx, c, 4, &started)
	require.NoError(t, c.Close())
	for range 4 {
		assert.ErrorIs(t, <-errs, rpc.ErrClosed)
	}
	require.NoError(t, c.Close(), "idempotent")
	_, err = c.Call(ctx, "block", nil)
	assert.ErrorIs(t, err, rpc.ErrClosed)

	require.NoError(t, s.Close())
	assert.ErrorIs(t, <-runDone, rpc.ErrClosed)
	require.NoError(t, s.Close(), "idempotent")
	assert.ErrorIs(t, s.Run(ctx), rpc.ErrClosed)
	goleak.VerifyNone(t)
}

// Garbage from a peer is counted and dropped; a request with the wrong
// frames is answered with CodeBadRequest.
func TestMalformedRequests(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	s, c, addr := pair(t, "inproc", func(s *rpc.Server) { s.Handle("echo", echo) })
	raw, err := sockets.NewDealer(sockets.WithLinger(0))
	require.NoError(t, err)
	defer raw.Close()
	require.NoError(t, raw.Dial(addr))
	require.NoError(t, raw.Send(ctx, []byte("hello")))
	require.NoError(t, raw.Send(ctx, []byte{'R', 9, 1}))
	// A valid header with too few frames: answered, since the id is known.
	hdr := []byte{'R', 1, 1, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0}
	require.NoError(t, raw.Send(ctx, hdr, []byte("echo")))
	m, err := raw.Recv(ctx)
	require.NoError(t, err)
	require.Len(t, m, 2)
	assert.Equal(t, []byte{'R', 1, 4, 0, 0, 0, 0, 0, 0, 0, 42, 0, byte(rpc.CodeBadRequest)}, m[0])
	assert.Contains(t, string(m[1]), "3")
	assert.Equal(t, uint64(3), s.Stats().Malformed)

	out, err := c.Call(ctx, "echo", []byte("still fine"))
	require.NoError(t, err)
	assert.Equal(t, "still fine", string(out))
}

func TestOptions(t *testing.T) {
	_, err := rpc.NewServer(rpc.WithWorkers(0))
	assert.ErrorIs(t, err, rpc.ErrBadOption)
	_, err = rpc.NewServer(rpc.WithBacklog(-1))
	assert.ErrorIs(t, err, rpc.ErrBadOption)
	_, err = rpc.NewClient(rpc.WithSocketOptions(sockets.WithSendHWM(-1)))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}

// A handler learns who calls from its context: over CURVE, the client's
// public key.
func TestHandlerKnowsTheCaller(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	s, err := rpc.NewServer(rpc.WithSocketOptions(sockets.WithCurveServer(srv, nil)))
	require.NoError(t, err)
	s.Handle("whoami", func(ctx context.Context, _ []byte) ([]byte, error) {
		p, ok := sockets.PeerFromContext(ctx)
		if !ok {
			return nil, errors.New("no peer in the context")
		}
		return []byte(p.UserID), nil
	})
	addr, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	serve(t, s)
	for i := 0; i < 2; i++ {
		cli, err := sockets.NewCurveKeypair()
		require.NoError(t, err)
		c, err := rpc.NewClient(rpc.WithSocketOptions(sockets.WithCurve(srv.Public, cli)))
		require.NoError(t, err)
		require.NoError(t, c.Dial(addr))
		got, err := c.Call(ctx, "whoami", nil)
		require.NoError(t, err)
		assert.Equal(t, sockets.CurveKey(cli.Public), string(got))
		require.NoError(t, c.Close())
	}
}
