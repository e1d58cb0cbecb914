package sockets_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/sockets"
)

// awaitEvent reads s's events until one of kind arrives (or fails after 5s).
func awaitEvent(t *testing.T, s *sockets.Socket, kind sockets.EventKind) sockets.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-s.Events():
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			require.FailNow(t, "no event", "waited for %v", kind)
		}
	}
}

func plainAuth(calls *atomic.Int32) func(user, pass string) bool {
	return func(user, pass string) bool {
		calls.Add(1)
		return user == "alice" && pass == "s3cret"
	}
}

func TestPlainAuthenticates(t *testing.T) {
	var calls atomic.Int32
	pull, err := sockets.NewPull(sockets.WithPlainServer(plainAuth(&calls)))
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)

	push, err := sockets.NewPush(sockets.WithPlain("alice", "s3cret"))
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(addr))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, push.Send(ctx, []byte("hello")))
	got, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("hello")}, got)
	assert.EqualValues(t, 1, calls.Load())
}

func TestPlainRefusesWrongCredentials(t *testing.T) {
	var calls atomic.Int32
	pull, err := sockets.NewPull(sockets.WithPlainServer(plainAuth(&calls)))
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		opt  sockets.Option
	}{
		{"wrong password", sockets.WithPlain("alice", "guess")},
		{"unknown user", sockets.WithPlain("mallory", "s3cret")},
		{"empty", sockets.WithPlain("", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			push, err := sockets.NewPush(tc.opt, sockets.WithReconnect(time.Second, time.Second), sockets.WithLinger(0))
			require.NoError(t, err)
			defer push.Close()
			require.NoError(t, push.Dial(addr))

			srv := awaitEvent(t, pull, sockets.EventHandshakeFailed)
			assert.ErrorIs(t, srv.Err, sockets.ErrAuth)
			assert.ErrorIs(t, srv.Err, sockets.ErrHandshake)
			cli := awaitEvent(t, push, sockets.EventHandshakeFailed)
			assert.ErrorIs(t, cli.Err, sockets.ErrAuth, "the client learns it was refused: %v", cli.Err)
			assert.Contains(t, cli.Err.Error(), "refused our credentials (400)")

			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_ = push.Send(ctx, []byte("must not arrive"))
			_, err = pull.Recv(ctx)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		})
	}
	assert.Zero(t, pull.Stats().Connects)
}

// A NULL client and a PLAIN server do not talk.
func TestPlainAgainstNullClient(t *testing.T) {
	pull, err := sockets.NewPull(sockets.WithPlainServer(nil))
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push, err := sockets.NewPush(sockets.WithReconnect(time.Second, time.Second))
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(addr))
	ev := awaitEvent(t, pull, sockets.EventHandshakeFailed)
	assert.ErrorIs(t, ev.Err, sockets.ErrHandshake)
	assert.False(t, errors.Is(ev.Err, sockets.ErrAuth), "a mechanism mismatch is not a refused password")
}

// Every reconnect authenticates again: the credentials are not spent by the
// first handshake. The server is also the side that dials here, which PLAIN
// allows (the roles are the mechanism's, not the connection's).
func TestPlainReauthenticatesOnReconnect(t *testing.T) {
	var calls atomic.Int32
	reconnectThrough(t, sockets.WithPlain("alice", "s3cret"), sockets.WithPlainServer(plainAuth(&calls)))
	assert.GreaterOrEqual(t, calls.Load(), int32(2))
}

// reconnectThrough has a PUSH (pushOpt) dial a PULL (pullOpt), exchange a
// message, and, once that PULL is closed and a new one (same options)
// listens on the same port, exchange another over the new connection.
func reconnectThrough(t *testing.T, pullOpt, pushOpt sockets.Option) {
	t.Helper()
	pull, err := sockets.NewPull(pullOpt)
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push, err := sockets.NewPush(pushOpt, sockets.WithReconnect(20*time.Millisecond, 100*time.Millisecond))
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	awaitEvent(t, push, sockets.EventConnected)
	require.NoError(t, push.Send(ctx, []byte("one")))
	_, err = pull.Recv(ctx)
	require.NoError(t, err)

	require.NoError(t, pull.Close())
	awaitEvent(t, push, sockets.EventDisconnected)
	pull2, err := sockets.NewPull(pullOpt)
	require.NoError(t, err)
	defer pull2.Close()
	for {
		if _, err = pull2.Listen(addr); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port may still be held
	}
	require.NoError(t, err)
	// Sent only once the new connection is up: a message written to the
	// old one as it dies is lost, in libzmq as here.
	awaitEvent(t, push, sockets.EventConnected)
	require.NoError(t, push.Send(ctx, []byte("two")))
	got, err := pull2.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "two", string(got[0]))
}

func TestPlainOptionErrors(t *testing.T) {
	_, err := sockets.NewPush(sockets.WithPlain(strings.Repeat("u", 256), "p"))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	_, err = sockets.NewPush(sockets.WithPlain("u", strings.Repeat("p", 256)))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}
