package lazypirate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zmqkit/zmqkit/patterns/internal/lazypirate"
	"github.com/zmqkit/zmqkit/sockets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errNoReply = errors.New("no reply")

// server answers the first n requests it receives with "ok", then stays
// silent; it stops when the test ends.
func server(t *testing.T, n int) string {
	t.Helper()
	s, err := sockets.NewRouter(sockets.WithLinger(0))
	require.NoError(t, err)
	ep, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			m, err := s.RecvMsg(ctx)
			if err != nil {
				return
			}
			if i < n {
				_ = s.SendMsg(ctx, sockets.Msg{Head: m.Head, Tail: [][]byte{{}, []byte("ok")}})
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return ep
}

func TestRequestReplies(t *testing.T) {
	c, err := lazypirate.New(server(t, 1), time.Second, 1, errNoReply, sockets.WithLinger(0))
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.Request(context.Background(), [][]byte{[]byte("q")})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("ok")}, rep)
}

func TestRequestGivesUpAfterAttempts(t *testing.T) {
	c, err := lazypirate.New(server(t, 0), 50*time.Millisecond, 2, errNoReply, sockets.WithLinger(0))
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	_, err = c.Request(context.Background(), [][]byte{[]byte("q")})
	assert.ErrorIs(t, err, errNoReply)
	assert.Contains(t, err.Error(), "after 2 attempts of 50ms")
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
}

func TestRequestAfterClose(t *testing.T) {
	c, err := lazypirate.New(server(t, 0), time.Second, 1, errNoReply, sockets.WithLinger(0))
	require.NoError(t, err)
	c.Close()
	c.Close() // idempotent
	_, err = c.Request(context.Background(), [][]byte{[]byte("q")})
	assert.ErrorIs(t, err, sockets.ErrClosed)
}

func TestCloseInterruptsRequest(t *testing.T) {
	c, err := lazypirate.New(server(t, 0), 10*time.Second, 1, errNoReply, sockets.WithLinger(0))
	require.NoError(t, err)
	go func() { time.Sleep(50 * time.Millisecond); c.Close() }()
	_, err = c.Request(context.Background(), [][]byte{[]byte("q")})
	assert.ErrorIs(t, err, sockets.ErrClosed)
}
