//go:build linux

package sockets_test

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// blackHole returns the address of a listener that answers no connection
// attempt: its accept queue (backlog 0) is full and never drained, so
// Linux drops the SYNs of every further connect, as a firewall that drops
// packets would.
func blackHole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for i := 0; ; i++ {
		require.Less(t, i, 16, "the accept queue never filled")
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			require.True(t, isTimeout(err), "%v", err)
			return addr
		}
		t.Cleanup(func() { _ = c.Close() })
	}
}

// WithConnectTimeout ends an attempt that gets no answer, and the Dial
// tries again; without it the first attempt would wait out the kernel's
// SYN retries (about two minutes).
func TestConnectTimeout(t *testing.T) {
	addr := blackHole(t)
	push := newSock(t, sockets.Push, sockets.WithConnectTimeout(200*time.Millisecond), sockets.WithReconnect(20*time.Millisecond, 0))
	log := watchEvents(push)
	start := time.Now()
	require.NoError(t, push.Dial("tcp://"+addr))
	for i := 1; i <= 2; i++ {
		ev := log.wait(t, 5*time.Second, i, "connect-retried", kind(sockets.EventConnectRetried))
		assert.True(t, isTimeout(ev.Err), "%v", ev.Err)
	}
	t.Logf("two timed-out attempts in %v", time.Since(start))
}
