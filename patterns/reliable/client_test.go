package reliable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/reliable"
	"github.com/zmqkit/zmqkit/sockets"
)

func newClient(t *testing.T, endpoint string, opts ...reliable.Option) *reliable.Client[string, string] {
	t.Helper()
	c, err := reliable.NewClient(codec.String(), codec.String(), endpoint, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestClientCalls(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	for _, ep := range []string{"tcp://127.0.0.1:0", "inproc://client-calls"} {
		s := startServer(t, ep, "s", nil)
		c := newClient(t, s.addr)
		for _, q := range []string{"a", "b", "c"} {
			r, err := c.Call(ctx, q)
			require.NoError(t, err)
			assert.Equal(t, "s:"+q, r)
		}
		st := c.Stats()
		assert.Equal(t, reliable.Stats{Calls: 3, Tries: 3, Connected: 1}, st)
		assert.Equal(t, s.addr, c.Endpoint())
	}
}

// The server dies and comes back on the same endpoint while a call is
// retrying: the call succeeds on the new server.
func TestClientRecoversWhenServerRestarts(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	s1 := startServer(t, "tcp://127.0.0.1:0", "first", nil)
	retried := make(chan error, 100)
	c := newClient(t, s1.addr, reliable.WithTimeout(150*time.Millisecond), reliable.WithTries(40),
		reliable.WithOnRetry(func(_ int, err error) { retried <- err }))
	r, err := c.Call(ctx, "before")
	require.NoError(t, err)
	assert.Equal(t, "first:before", r)

	s1.stop()
	type reply struct {
		r   string
		err error
	}
	got := make(chan reply, 1)
	go func() {
		r, err := c.Call(ctx, "during")
		got <- reply{r, err}
	}()
	select {
	case err := <-retried: // a try was lost: the server is really gone
		// It timed out, or went out on the dying connection and was
		// reported lost as that connection ended.
		assert.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sockets.ErrRequestLost), "%v", err)
	case <-ctx.Done():
		t.Fatal("no retry")
	}
	s2 := startServer(t, s1.addr, "second", nil)
	rep := <-got
	require.NoError(t, rep.err)
	assert.Equal(t, "second:during", rep.r)
	assert.Equal(t, int64(1), s2.calls.Load())

	st := c.Stats()
	assert.Equal(t, uint64(2), st.Calls)
	assert.GreaterOrEqual(t, st.Retries, uint64(1))
	assert.Equal(t, st.Retries, st.Rebuilds, "a new REQ socket for every lost reply")
	assert.Zero(t, st.NoReply)
}

// A reply that comes too late leaves a REQ socket that would refuse the
// next request (ErrState); the client sends again on a new socket.
func TestClientLostReplyRebuildsSocket(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	release := make(chan struct{})
	var first = true
	s := startServer(t, "tcp://127.0.0.1:0", "s", func(ctx context.Context, req string) (string, error) {
		if first { // Serve runs one request at a time
			first = false
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return "s:" + req, nil
	})
	c := newClient(t, s.addr, reliable.WithTimeout(100*time.Millisecond),
		reliable.WithOnRetry(func(try int, _ error) {
			if try == 1 {
				close(release)
			}
		}))
	r, err := c.Call(ctx, "q")
	require.NoError(t, err)
	assert.Equal(t, "s:q", r)
	assert.Equal(t, int64(2), s.calls.Load(), "served twice, answered once")
	st := c.Stats()
	assert.Equal(t, uint64(2), st.Tries)
	assert.Equal(t, uint64(1), st.Rebuilds)

	// The late reply went to the old socket: the next call is in step.
	r, err = c.Call(ctx, "next")
	require.NoError(t, err)
	assert.Equal(t, "s:next", r)
}

// A server that never answers: ErrNoReply after exactly the tries asked
// for, in about tries × timeout.
func TestClientGivesUpAfterTries(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	d := startDeaf(t)
	const timeout, tries = 100 * time.Millisecond, 3
	var retries []int
	c := newClient(t, d.addr, reliable.WithTimeout(timeout), reliable.WithTries(tries),
		reliable.WithOnRetry(func(try int, _ error) { retries = append(retries, try) }))
	start := time.Now()
	_, err := c.Call(ctx, "anyone?")
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, reliable.ErrNoReply)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "wraps the last cause")
	assert.Contains(t, err.Error(), d.addr)
	assert.GreaterOrEqual(t, elapsed, tries*timeout)
	assert.Less(t, elapsed, tries*timeout+time.Second)
	assert.Equal(t, []int{1, 2}, retries)
	eventually(t, 5*time.Second, func() bool { return d.requests.Load() == tries }, "the deaf server did not get every try")
	st := c.Stats()
	assert.Equal(t, reliable.Stats{Calls: 1, Tries: tries, Retries: tries - 1, NoReply: 1, Rebuilds: tries}, st)
}

func TestClientReturnsAnswersAtOnce(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	s := startServer(t, "tcp://127.0.0.1:0", "s", func(_ context.Context, req string) (string, error) {
		return "", errors.New("no such thing: " + req)
	})
	c := newClient(t, s.addr, reliable.WithTimeout(time.Second))
	_, err := c.Call(ctx, "x")
	assert.ErrorIs(t, err, sockets.ErrRemote)
	assert.NotErrorIs(t, err, reliable.ErrNoReply)
	assert.Contains(t, err.Error(), "no such thing: x")

	// A reply the client cannot decode is an answer too.
	s2 := startServer(t, "tcp://127.0.0.1:0", "not-json", nil)
	j2, err := reliable.NewClient(codec.String(), codec.JSON[int](), s2.addr)
	require.NoError(t, err)
	defer j2.Close()
	_, err = j2.Call(ctx, "y")
	assert.ErrorIs(t, err, codec.ErrDecode)
	assert.Equal(t, uint64(1), j2.Stats().Tries)
	assert.Equal(t, uint64(1), c.Stats().Tries)
}

func TestClientContextEndsCall(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	d := startDeaf(t)
	c := newClient(t, d.addr, reliable.WithTimeout(time.Second), reliable.WithTries(3))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := c.Call(short, "q")
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, reliable.ErrNoReply)
	assert.Equal(t, uint64(1), c.Stats().Tries)
}

func TestClientClose(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	d := startDeaf(t)
	c := newClient(t, d.addr, reliable.WithTimeout(5*time.Second))
	errc := make(chan error, 1)
	go func() { _, err := c.Call(ctx, "q"); errc <- err }()
	eventually(t, 5*time.Second, func() bool { return d.requests.Load() == 1 }, "no request")
	require.NoError(t, c.Close())
	assert.ErrorIs(t, <-errc, reliable.ErrClosed)
	_, err := c.Call(ctx, "again")
	assert.ErrorIs(t, err, reliable.ErrClosed)
	require.NoError(t, c.Close())
}

func TestBadOptions(t *testing.T) {
	for name, o := range map[string]reliable.Option{
		"timeout":   reliable.WithTimeout(0),
		"tries":     reliable.WithTries(0),
		"heartbeat": reliable.WithHeartbeat(-time.Second),
		"socket":    reliable.WithSocketOptions(sockets.WithSendHWM(-1)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := reliable.NewClient(codec.String(), codec.String(), "tcp://127.0.0.1:1", o)
			assert.ErrorIs(t, err, sockets.ErrBadOption)
			_, err = reliable.NewFreelance(codec.String(), codec.String(), []string{"tcp://127.0.0.1:1"}, o)
			assert.ErrorIs(t, err, sockets.ErrBadOption)
		})
	}
	_, err := reliable.NewClient(codec.String(), codec.String(), "bogus://x")
	assert.ErrorIs(t, err, sockets.ErrBadEndpoint)
	_, err = reliable.NewFreelance(codec.String(), codec.String(), []string{"tcp://127.0.0.1:1", "bogus://x"})
	assert.ErrorIs(t, err, sockets.ErrBadEndpoint)
	_, err = reliable.NewFreelance(codec.String(), codec.String(), nil)
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}
