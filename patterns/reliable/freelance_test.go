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

func newFreelance(t *testing.T, endpoints []string, opts ...reliable.Option) *reliable.Freelance[string, string] {
	t.Helper()
	f, err := reliable.NewFreelance(codec.String(), codec.String(), endpoints, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func connected(t *testing.T, f *reliable.Freelance[string, string], n int) {
	t.Helper()
	eventually(t, 5*time.Second, func() bool { return f.Stats().Connected == n }, "connections")
}

// The first server is dead: the call goes to the second without spending a
// try on the first.
func TestFreelanceSkipsDeadServer(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	dead := deadEndpoint(t)
	live := startServer(t, "tcp://127.0.0.1:0", "live", nil)
	f := newFreelance(t, []string{dead, live.addr}, reliable.WithTimeout(time.Second))
	assert.Equal(t, []string{dead, live.addr}, f.Servers())
	for _, q := range []string{"a", "b"} {
		r, err := f.Call(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, "live:"+q, r)
	}
	st := f.Stats()
	assert.Equal(t, reliable.Stats{Calls: 2, Tries: 2, Connected: 1}, st)
}

// The first server is up but hangs: after one timeout the call fails over
// to the second, and later calls go straight there.
func TestFreelanceFailsOverFromHungServer(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	hung := startDeaf(t)
	live := startServer(t, "tcp://127.0.0.1:0", "live", nil)
	const timeout = 150 * time.Millisecond
	var failed []error
	f := newFreelance(t, []string{hung.addr, live.addr}, reliable.WithTimeout(timeout),
		reliable.WithOnRetry(func(_ int, err error) { failed = append(failed, err) }))
	connected(t, f, 2)

	start := time.Now()
	r, err := f.Call(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, "live:a", r)
	assert.GreaterOrEqual(t, time.Since(start), timeout)
	require.Len(t, failed, 1)
	assert.ErrorIs(t, failed[0], context.DeadlineExceeded)
	assert.Contains(t, failed[0].Error(), hung.addr)
	assert.Equal(t, int64(1), hung.requests.Load())

	r, err = f.Call(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, "live:b", r)
	st := f.Stats()
	assert.Equal(t, uint64(3), st.Tries, "the second call went straight to the live server")
	assert.Equal(t, uint64(1), st.Failovers)
	assert.Equal(t, int64(1), hung.requests.Load())
}

// The server in use dies: calls move to the other one; when that one dies
// too and the first comes back on its endpoint, calls move back.
func TestFreelanceFailsOverWhenServerDies(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	a := startServer(t, "tcp://127.0.0.1:0", "a", nil)
	b := startServer(t, "tcp://127.0.0.1:0", "b", nil)
	f := newFreelance(t, []string{a.addr, b.addr}, reliable.WithTimeout(200*time.Millisecond), reliable.WithTries(10))
	connected(t, f, 2)
	r, err := f.Call(ctx, "1")
	require.NoError(t, err)
	assert.Equal(t, "a:1", r)

	a.stop()
	r, err = f.Call(ctx, "2") // whether or not the drop is seen yet
	require.NoError(t, err)
	assert.Equal(t, "b:2", r)

	a2 := startServer(t, a.addr, "a2", nil)
	connected(t, f, 2)
	b.stop()
	connected(t, f, 1)
	r, err = f.Call(ctx, "3")
	require.NoError(t, err)
	assert.Equal(t, "a2:3", r)
	assert.Equal(t, int64(1), a2.calls.Load())
}

// A slow server's reply arrives after the call failed over: a later call to
// that server drops it and waits for its own.
func TestFreelanceDropsLateReplies(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	release := make(chan struct{})
	slow := startServer(t, "tcp://127.0.0.1:0", "slow", func(ctx context.Context, req string) (string, error) {
		if req == "1" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return "slow:" + req, nil
	})
	other := startServer(t, "tcp://127.0.0.1:0", "other", nil)
	f := newFreelance(t, []string{slow.addr, other.addr}, reliable.WithTimeout(100*time.Millisecond))
	connected(t, f, 2)

	r, err := f.Call(ctx, "1")
	require.NoError(t, err)
	assert.Equal(t, "other:1", r)
	close(release)
	eventually(t, 5*time.Second, func() bool { return slow.calls.Load() == 1 }, "slow server never served")

	other.stop()
	connected(t, f, 1)
	r, err = f.Call(ctx, "2")
	require.NoError(t, err)
	assert.Equal(t, "slow:2", r)
	assert.Equal(t, uint64(1), f.Stats().Stale, "the late reply to 1 was dropped")
}

func TestFreelanceAllDown(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	const timeout = 50 * time.Millisecond
	f := newFreelance(t, []string{deadEndpoint(t), deadEndpoint(t)}, reliable.WithTimeout(timeout))
	start := time.Now()
	_, err := f.Call(ctx, "q")
	elapsed := time.Since(start)
	assert.ErrorIs(t, err, reliable.ErrNoReply)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no server connected")
	tries := reliable.DefaultTries // max(DefaultTries, 2 servers)
	assert.GreaterOrEqual(t, elapsed, time.Duration(tries)*timeout)
	assert.Less(t, elapsed, time.Duration(tries)*timeout+time.Second)
	assert.Equal(t, reliable.Stats{Calls: 1, Tries: uint64(tries), Retries: uint64(tries - 1), NoReply: 1}, f.Stats())
}

func TestFreelanceReturnsAnswersAtOnce(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	a := startServer(t, "tcp://127.0.0.1:0", "a", func(_ context.Context, req string) (string, error) {
		return "", errors.New("refused " + req)
	})
	b := startServer(t, "tcp://127.0.0.1:0", "b", nil)
	f := newFreelance(t, []string{a.addr, b.addr})
	connected(t, f, 2)
	_, err := f.Call(ctx, "x")
	assert.ErrorIs(t, err, sockets.ErrRemote)
	assert.Contains(t, err.Error(), "refused x")
	assert.Equal(t, uint64(1), f.Stats().Tries, "an error reply is an answer: no fail-over")
	assert.Zero(t, b.calls.Load())

	j, err := reliable.NewFreelance(codec.String(), codec.JSON[int](), []string{b.addr})
	require.NoError(t, err)
	defer j.Close()
	_, err = j.Call(ctx, "y")
	assert.ErrorIs(t, err, codec.ErrDecode)
}

// With heartbeats on, a server that takes requests and never answers is
// still connected (its socket answers PINGs): only the call's end, here
// Close, ends the wait.
func TestFreelanceHeartbeatAndClose(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	hung := startDeaf(t)
	f := newFreelance(t, []string{hung.addr}, reliable.WithHeartbeat(20*time.Millisecond), reliable.WithTimeout(5*time.Second))
	connected(t, f, 1)
	errc := make(chan error, 1)
	go func() { _, err := f.Call(ctx, "q"); errc <- err }()
	eventually(t, 5*time.Second, func() bool { return hung.requests.Load() == 1 }, "no request")
	require.NoError(t, f.Close())
	assert.ErrorIs(t, <-errc, reliable.ErrClosed)
	_, err := f.Call(ctx, "again")
	assert.ErrorIs(t, err, reliable.ErrClosed)
}
