package sockets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// roundTrip sends one message from a PUSH dialling ep to pull.
func roundTrip(t *testing.T, ctx context.Context, pull *sockets.Socket, ep, body string) {
	t.Helper()
	push, err := sockets.NewPush()
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(ep))
	require.NoError(t, push.Send(ctx, []byte(body)))
	m, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte(body)}, m)
}

func TestListenIPCWildcard(t *testing.T) {
	ctx := ctxT(t)
	pull, err := sockets.NewPull()
	require.NoError(t, err)
	defer pull.Close()

	ep1, err := pull.Listen("ipc://*")
	require.NoError(t, err)
	ep2, err := pull.Listen("ipc://*")
	require.NoError(t, err)
	require.NotEqual(t, ep1, ep2, "each ipc://* bind has a path of its own")

	var paths []string
	for _, ep := range []string{ep1, ep2} {
		path, ok := strings.CutPrefix(ep, "ipc://")
		require.True(t, ok, "Listen returns an ipc endpoint: %s", ep)
		require.True(t, filepath.IsAbs(path), "the real path, not *: %s", ep)
		fi, err := os.Lstat(path)
		require.NoError(t, err)
		assert.NotZero(t, fi.Mode()&os.ModeSocket, "%s is a socket file", path)
		paths = append(paths, path)
		roundTrip(t, ctx, pull, ep, "via "+ep)
	}

	require.NoError(t, pull.Unbind(ep1))
	assert.NoFileExists(t, paths[0], "Unbind removes the file")
	assert.NoDirExists(t, filepath.Dir(paths[0]), "and the directory made for it")
	require.NoError(t, pull.Close())
	assert.NoFileExists(t, paths[1], "Close removes the file")
	assert.NoDirExists(t, filepath.Dir(paths[1]))
}

func TestDialIPCWildcardRefused(t *testing.T) {
	push, err := sockets.NewPush()
	require.NoError(t, err)
	defer push.Close()
	err = push.Dial("ipc://*")
	assert.ErrorIs(t, err, sockets.ErrBadEndpoint)
}

func TestListenInterfaceName(t *testing.T) {
	for _, tc := range []struct {
		ep, prefix string
	}{
		{"tcp://lo:0", "tcp://127.0.0.1:"},
		{"tcp://*:0", "tcp://[::]:"},
		{"tcp://127.0.0.1:0", "tcp://127.0.0.1:"},
		{"tcp://[::1]:0", "tcp://[::1]:"},
		{"tcp://localhost:0", "tcp://"},
	} {
		t.Run(tc.ep, func(t *testing.T) {
			ctx := ctxT(t)
			pull, err := sockets.NewPull()
			require.NoError(t, err)
			defer pull.Close()
			ep, err := pull.Listen(tc.ep)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(ep, tc.prefix), "Listen(%s) = %s, want %s…", tc.ep, ep, tc.prefix)
			dial := strings.Replace(ep, "[::]", "127.0.0.1", 1)
			roundTrip(t, ctx, pull, dial, "hello")
		})
	}
}

func TestListenUnknownInterface(t *testing.T) {
	pull, err := sockets.NewPull()
	require.NoError(t, err)
	defer pull.Close()
	_, err = pull.Listen("tcp://nosuchif0.invalid:0")
	require.Error(t, err)
	assert.ErrorIs(t, err, sockets.ErrBadEndpoint)
	assert.Contains(t, err.Error(), "neither a network interface")
	assert.Contains(t, err.Error(), "lo", "the error lists the interfaces there are")
	assert.False(t, errors.Is(err, sockets.ErrClosed))
}
