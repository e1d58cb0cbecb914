package sockets_test

// Helpers for the socket-semantics tests (semantics_test.go, pipeline_test.go,
// pubsub_test.go, reqrep_test.go, router_test.go). Every name here starts
// with "sem" so that it cannot clash with the helpers of other test files.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// semTransports are the transports the table-driven tests run over.
var semTransports = []string{"tcp", "ipc", "inproc"}

var semSeq atomic.Uint64

// semEndpoint returns a fresh endpoint to Listen on for transport tr: an
// ephemeral loopback port, a short unix socket path, or a unique inproc name.
func semEndpoint(t *testing.T, tr string) string {
	t.Helper()
	n := semSeq.Add(1)
	switch tr {
	case "tcp":
		return "tcp://127.0.0.1:0"
	case "ipc":
		// t.TempDir() paths can exceed the 108-byte limit of unix sockets.
		dir, err := os.MkdirTemp("", "zksem")
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		return "ipc://" + filepath.Join(dir, fmt.Sprintf("s%d", n))
	case "inproc":
		return fmt.Sprintf("inproc://sem-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), n)
	}
	t.Fatalf("unknown transport %q", tr)
	return ""
}

// semNew creates a socket that the test closes when it ends (cleanups run
// last-created first).
func semNew(t *testing.T, typ sockets.Type, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.New(typ, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// semListen listens on a fresh endpoint of transport tr and returns the bound
// endpoint.
func semListen(t *testing.T, s *sockets.Socket, tr string) string {
	t.Helper()
	addr, err := s.Listen(semEndpoint(t, tr))
	require.NoError(t, err)
	return addr
}

// semCtx is a context that ends with the test, or after d.
func semCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// semEventually polls cond every millisecond or so until it holds; it fails
// the test after d.
func semEventually(t *testing.T, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", d, fmt.Sprintf(format, args...))
		}
		time.Sleep(time.Millisecond)
	}
}

// semWaitEvents reads s's monitor channel until n events of kind have been
// seen, and fails the test after d. Other events are discarded.
func semWaitEvents(t *testing.T, s *sockets.Socket, kind sockets.EventKind, n int, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	seen := 0
	var other []string
	for seen < n {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("events closed after %d/%d %v", seen, n, kind)
			}
			if ev.Kind == kind {
				seen++
			} else {
				other = append(other, ev.Kind.String())
			}
		case <-timer.C:
			t.Fatalf("saw %d/%d %v events in %v (others: %v)", seen, n, kind, d, other)
		}
	}
}

// semRecv receives one message, failing the test on error.
func semRecv(t *testing.T, ctx context.Context, s *sockets.Socket) [][]byte {
	t.Helper()
	m, err := s.Recv(ctx)
	require.NoError(t, err)
	return m
}

// semTryRecv waits at most d for a message.
func semTryRecv(s *sockets.Socket, d time.Duration) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Recv(ctx)
}

// semNoMsg asserts that nothing arrives on s within d.
func semNoMsg(t *testing.T, s *sockets.Socket, d time.Duration) {
	t.Helper()
	m, err := semTryRecv(s, d)
	if err == nil {
		t.Fatalf("unexpected message %q", m)
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// semF builds a message from strings.
func semF(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

// semS renders a message as strings, for comparisons and failure output.
func semS(m [][]byte) []string {
	out := make([]string, len(m))
	for i, f := range m {
		out[i] = string(f)
	}
	return out
}

// semGoroutineID is the id of the calling goroutine, from its stack header.
func semGoroutineID() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := bytes.Fields(buf[:n])
	if len(f) < 2 {
		return ""
	}
	return string(f[1])
}

// semBlocked reports whether goroutine id is parked inside a socket's wait
// (the one place every blocking Send and Recv waits).
func semBlocked(id string) bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.HasPrefix(g, "goroutine "+id+" [") {
			return strings.Contains(g, "sockets.(*Socket).wait")
		}
	}
	return false
}

// semStartBlocked runs op in a goroutine and returns once that goroutine
// is parked in the socket, waiting; the channel yields op's result.
func semStartBlocked(t *testing.T, op func() error) <-chan error {
	t.Helper()
	res := make(chan error, 1)
	ids := make(chan string, 1)
	go func() {
		ids <- semGoroutineID()
		res <- op()
	}()
	id := <-ids
	deadline := time.Now().Add(5 * time.Second)
	for !semBlocked(id) {
		select {
		case err := <-res:
			t.Fatalf("operation returned %v instead of blocking", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation did not block within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	return res
}

// semResult waits at most d for a result from ch.
func semResult(t *testing.T, ch <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("blocked call still blocked after %v", d)
		return nil
	}
}

// semIsClosed is errors.Is(err, sockets.ErrClosed) with a useful message.
func semIsClosed(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, sockets.ErrClosed) {
		t.Fatalf("%s: got %v, want an error wrapping sockets.ErrClosed", what, err)
	}
}
