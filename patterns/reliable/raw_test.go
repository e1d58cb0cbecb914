package reliable_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/patterns/reliable"
	"github.com/zmqkit/zmqkit/sockets"
)

// routerEcho answers each request, of any number of frames, with "ok" and
// the request's frames; it stops when the test ends.
func routerEcho(t *testing.T) string {
	t.Helper()
	s, err := sockets.NewRouter(sockets.WithLinger(0))
	require.NoError(t, err)
	ep, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := s.RecvMsg(context.Background())
			if err != nil {
				return
			}
			// Tail is the REQ envelope's empty delimiter, then the body.
			reply := append([][]byte{{}, []byte("ok")}, m.Tail[1:]...)
			_ = s.SendMsg(context.Background(), sockets.Msg{Head: m.Head, Tail: reply})
		}
	}()
	t.Cleanup(func() { s.Close(); <-done })
	return ep
}

func newRaw(t *testing.T, endpoint string, opts ...reliable.Option) *reliable.Client[[][]byte, [][]byte] {
	t.Helper()
	c, err := reliable.NewRawClient(endpoint, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRawClientCallsWithFrames(t *testing.T) {
	c := newRaw(t, routerEcho(t))
	rep, err := c.Call(testCtx(t, 10*time.Second), [][]byte{[]byte("a"), {}, []byte("c")})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("ok"), []byte("a"), {}, []byte("c")}, rep)
	assert.Equal(t, reliable.Stats{Calls: 1, Tries: 1, Connected: 1}, c.Stats())
}

func TestRawClientGivesUpAndRebuilds(t *testing.T) {
	d := startDeaf(t)
	c := newRaw(t, d.addr, reliable.WithTimeout(50*time.Millisecond), reliable.WithTries(2))
	_, err := c.Call(testCtx(t, 10*time.Second), [][]byte{[]byte("q")})
	require.ErrorIs(t, err, reliable.ErrNoReply)
	assert.Contains(t, err.Error(), "after 2 tries of 50ms")
	assert.Equal(t, int64(2), d.requests.Load(), "each try reached the server")
	st := c.Stats()
	assert.Equal(t, uint64(2), st.Rebuilds)
	assert.Equal(t, uint64(1), st.NoReply)
}

func TestRawClientCloseEndsCall(t *testing.T) {
	d := startDeaf(t)
	c := newRaw(t, d.addr, reliable.WithTimeout(time.Minute))
	got := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), [][]byte{[]byte("q")})
		got <- err
	}()
	eventually(t, 5*time.Second, func() bool { return d.requests.Load() == 1 }, "request arrives")
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "idempotent")
	select {
	case err := <-got:
		assert.ErrorIs(t, err, reliable.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the call")
	}
	_, err := c.Call(context.Background(), [][]byte{[]byte("q")})
	assert.ErrorIs(t, err, reliable.ErrClosed)
}
