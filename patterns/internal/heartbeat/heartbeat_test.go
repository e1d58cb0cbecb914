package heartbeat_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/patterns/internal/heartbeat"
	"github.com/zmqkit/zmqkit/sockets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigSettersCheck(t *testing.T) {
	var c heartbeat.Config
	for name, err := range map[string]error{
		"heartbeat 0":        c.SetHeartbeat(0, 3),
		"liveness 0":         c.SetHeartbeat(time.Second, 0),
		"reconnect 0":        c.SetReconnect(0, time.Second),
		"reconnect max<init": c.SetReconnect(time.Second, time.Millisecond),
		"retry timeout 0":    c.SetRetry(0, 1),
		"retry attempts 0":   c.SetRetry(time.Second, 0),
		"identity empty":     c.SetIdentity(""),
		"identity 0 byte":    c.SetIdentity("\x00x"),
		"identity too long":  c.SetIdentity(string(make([]byte, 256))),
		"max queue < 0":      c.SetMaxQueue(-1),
		"request TTL < 0":    c.SetRequestTTL(-time.Second),
		"max deliveries 0":   c.SetMaxDeliveries(0),
	} {
		assert.ErrorIs(t, err, sockets.ErrBadOption, name)
	}
	assert.Equal(t, heartbeat.Config{}, c, "a rejected value is not kept")

	require.NoError(t, c.SetHeartbeat(100*time.Millisecond, 3))
	require.NoError(t, c.SetReconnect(time.Second, time.Second))
	require.NoError(t, c.SetRetry(time.Second, 1))
	require.NoError(t, c.SetIdentity("w"))
	require.NoError(t, c.SetMaxQueue(0))
	require.NoError(t, c.SetRequestTTL(0))
	require.NoError(t, c.SetMaxDeliveries(1))
	require.NoError(t, c.SetLogger(nil))
	require.NoError(t, c.AddSocketOptions(sockets.WithLinger(0)))
	c.Finish()
	assert.NotNil(t, c.Logger)
	assert.Equal(t, 300*time.Millisecond, c.Window())
	assert.Equal(t, []byte("w"), c.Identity)
	assert.Len(t, c.SocketOptions(sockets.WithLinger(time.Second)), 2)
}

func TestBackoffDoublesToCapAndResets(t *testing.T) {
	b := heartbeat.NewBackoff(time.Millisecond, 5*time.Millisecond)
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
		require.NoError(t, b.Wait(context.Background()))
	}
	assert.Equal(t, []time.Duration{1, 2, 4, 5, 5}, scale(got, time.Millisecond))
	b.Reset()
	assert.Equal(t, time.Millisecond, b.Next())

	cause := errors.New("stopping")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	long := heartbeat.NewBackoff(time.Hour, time.Hour)
	assert.ErrorIs(t, long.Wait(ctx), cause)
	assert.Equal(t, time.Hour, long.Next(), "an interrupted wait does not double")
}

func scale(ds []time.Duration, unit time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d / unit
	}
	return out
}

func TestLivenessSilence(t *testing.T) {
	const window = 60 * time.Millisecond
	l := heartbeat.NewLiveness(window)
	s := l.Silence()
	defer s.Stop()
	start := time.Now()
	time.Sleep(window / 2)
	l.Heard() // pushes death to a window from now
	assert.True(t, l.EverHeard())
	<-s.C
	require.False(t, s.Dead(), "heard half a window in")
	<-s.C
	require.True(t, s.Dead())
	assert.GreaterOrEqual(t, time.Since(start), window*3/2)

	r := heartbeat.NewLiveness(window)
	assert.False(t, r.EverHeard())
	r.Restart()
	assert.False(t, r.EverHeard(), "a connection is not a message")
}

func TestTickBeatsAndWakesEarly(t *testing.T) {
	const interval = 40 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var beats, early atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		heartbeat.Tick(ctx, interval, func(now time.Time, beat bool, nextBeat time.Time) time.Time {
			if beat {
				beats.Add(1)
				return now.Add(interval / 4) // ask for an early call
			}
			early.Add(1)
			return nextBeat
		})
	}()
	// Wait for the calls, not for an amount of time: under load five
	// intervals may bring fewer than three beats.
	testutil.Eventually(t, 10*time.Second, func() bool { return beats.Load() >= 3 && early.Load() >= 3 },
		"%d beats and %d early calls", beats.Load(), early.Load())
	cancel()
	<-done
}
