package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
)

// These tests run the commands in this process, so the race detector and
// goleak (TestMain) watch them.

// goRun starts a command in a goroutine; the returned channel yields its
// status.
func goRun(ctx context.Context, f runFunc, args []string, stdin io.Reader, stdout, stderr io.Writer) <-chan int {
	ch := make(chan int, 1)
	go func() { ch <- f(ctx, args, stdin, stdout, stderr) }()
	return ch
}

func status(t *testing.T, ch <-chan int) int {
	t.Helper()
	select {
	case code := <-ch:
		return code
	case <-time.After(10 * time.Second):
		require.FailNow(t, "command did not end")
		return -1
	}
}

func TestInProcessPushPull(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	rOut, rErr := newOutput(), newOutput()
	recvDone := goRun(ctx, runRecv, []string{"--type", "pull", "--bind", "tcp://127.0.0.1:0", "--count", "3"}, nil, rOut, rErr)
	ep := rErr.waitEndpoint(t)

	sOut, sErr := newOutput(), newOutput()
	code := runSend(ctx, []string{"--type", "push", "--connect", ep, "--verbose"},
		strings.NewReader("one\ntwo\tframes\r\n\\x00\\\\"), sOut, sErr)
	assert.Equal(t, 0, code, sErr.String())
	assert.Equal(t, 0, status(t, recvDone), rErr.String())
	assert.Equal(t, []string{"one", "two\tframes", `\x00\\`}, rOut.lines())
	assert.Empty(t, sOut.String())
	assert.Contains(t, sErr.String(), "connected "+ep, "--verbose prints events")
}

func TestInProcessAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ep := "tcp://" + ln.Addr().String()
	for _, args := range [][]string{
		{"recv", "--type", "pull", "--bind", ep},
		{"send", "--type", "push", "--bind", "tcp://127.0.0.1:0", "--bind", ep, "--count", "1"},
	} {
		code, out, errOut := runCmd(t, args...)
		assert.Equal(t, 1, code, args)
		assert.Empty(t, out)
		oneLine(t, errOut, "--bind "+ep+": address already in use")
	}
}

func TestInProcessInterrupt(t *testing.T) {
	t.Run("recv forever", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testutil.Context(t, 10*time.Second))
		out, errOut := newOutput(), newOutput()
		done := goRun(ctx, runRecv, []string{"--type", "sub", "--bind", "tcp://127.0.0.1:0"}, nil, out, errOut)
		errOut.waitEndpoint(t)
		cancel()
		assert.Equal(t, 0, status(t, done))
		assert.Len(t, errOut.lines(), 1, "only the listening line: %q", errOut.String())
	})
	t.Run("send waiting for stdin", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testutil.Context(t, 10*time.Second))
		pr, pw := io.Pipe()
		defer pw.Close() // ends the goroutine still reading stdin
		out, errOut := newOutput(), newOutput()
		done := goRun(ctx, runSend, []string{"--type", "push", "--bind", "tcp://127.0.0.1:0"}, pr, out, errOut)
		errOut.waitEndpoint(t)
		cancel()
		assert.Equal(t, 0, status(t, done))
		assert.Len(t, errOut.lines(), 1, "only the listening line: %q", errOut.String())
	})
	t.Run("send waiting for a subscriber", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testutil.Context(t, 10*time.Second))
		out, errOut := newOutput(), newOutput()
		done := goRun(ctx, runSend, []string{"--type", "pub", "--bind", "tcp://127.0.0.1:0", "--count", "3", "--timeout", "0"}, nil, out, errOut)
		errOut.waitEndpoint(t)
		cancel()
		assert.Equal(t, 0, status(t, done))
	})
}

func TestInProcessTimeouts(t *testing.T) {
	code, _, errOut := runCmd(t, "send", "--type", "push", "--bind", "tcp://127.0.0.1:0", "--count", "1", "--timeout", "100ms")
	assert.Equal(t, 1, code)
	assert.Equal(t, "no peer connected within 100ms", lastLine(errOut))

	code, _, errOut = runCmd(t, "send", "--type", "pub", "--bind", "tcp://127.0.0.1:0", "--count", "1", "--timeout", "100ms")
	assert.Equal(t, 1, code)
	assert.Equal(t, "no subscriber within 100ms", lastLine(errOut))

	code, _, errOut = runCmd(t, "recv", "--type", "pull", "--bind", "tcp://127.0.0.1:0", "--timeout", "100ms")
	assert.Equal(t, 1, code)
	assert.Equal(t, "no message within 100ms (0 received)", lastLine(errOut))
}

// lastLine is the error of a failed command, without its prefix.
func lastLine(stderr string) string {
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	_, msg, _ := strings.Cut(lines[len(lines)-1], ": ")
	return msg
}

// A REQ whose peer never answers (here a ROUTER, which prints the request
// with its routing id in front) fails after --timeout while the peer is
// there, and at once when the peer goes away with the request.
func TestInProcessReqWithoutReply(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	for _, tc := range []struct {
		count, want string
		recvCode    int
	}{
		{"2", "no reply to message 1 within 300ms", 1}, // the ROUTER waits for a second message
		{"1", "no reply to message 1: the peer's connection ended before it answered", 0},
	} {
		rOut, rErr := newOutput(), newOutput()
		recvDone := goRun(ctx, runRecv, []string{"--type", "router", "--bind", "tcp://127.0.0.1:0", "--count", tc.count, "--timeout", "1s"}, nil, rOut, rErr)
		ep := rErr.waitEndpoint(t)

		var sOut, sErr strings.Builder
		code := runSend(ctx, []string{"--type", "req", "--connect", ep, "--count", "1", "--size", "3", "--timeout", "300ms"}, nil, &sOut, &sErr)
		assert.Equal(t, 1, code)
		assert.Equal(t, tc.want, lastLine(sErr.String()))
		assert.Equal(t, tc.recvCode, status(t, recvDone), rErr.String())
		// Routing id (made up by the ROUTER: 0 then 4 random bytes, escaped
		// or not as they fall), REQ's empty delimiter frame, the body.
		lines := rOut.lines()
		require.Len(t, lines, 1)
		id, rest, _ := strings.Cut(lines[0], "\t")
		assert.Equal(t, "\t1 x", rest)
		assert.Len(t, unescape([]byte(id)), 5, "routing id %q", id)
		assert.True(t, strings.HasPrefix(id, `\x00`), "routing id %q", id)
	}
}
