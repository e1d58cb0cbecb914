package main

import (
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
)

// End-to-end: the binary TestMain built, run as processes talking over
// 127.0.0.1. A recv (or send) that binds tcp://127.0.0.1:0 tells the port
// the system chose in its "listening <endpoint>" line on stderr; the peer
// process is started with that endpoint.

type proc struct {
	cmd    *exec.Cmd
	stdout *output
	stderr *output
	done   chan struct{}
}

// start runs zmqkit with args; stdin is r (nil: empty).
func start(t *testing.T, r io.Reader, args ...string) *proc {
	t.Helper()
	cmd := exec.CommandContext(testutil.Context(t, 15*time.Second), binPath, args...)
	p := &proc{cmd: cmd, stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, p.stdout, p.stderr
	cmd.WaitDelay = 2 * time.Second
	require.NoError(t, cmd.Start())
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait returns the exit status.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(12 * time.Second):
		require.FailNow(t, "process did not end", "%v\nstderr: %s", p.cmd.Args, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

func TestE2EGenerated(t *testing.T) {
	recv := start(t, nil, "recv", "--type", "pull", "--bind", "tcp://127.0.0.1:0", "--count", "5")
	ep := recv.stderr.waitEndpoint(t)
	send := start(t, nil, "send", "--type", "push", "--connect", ep, "--count", "5", "--size", "16")

	require.Equal(t, 0, send.wait(t), send.stderr.String())
	require.Equal(t, 0, recv.wait(t), recv.stderr.String())
	assert.Equal(t, []string{
		"1 xxxxxxxxxxxxxx",
		"2 xxxxxxxxxxxxxx",
		"3 xxxxxxxxxxxxxx",
		"4 xxxxxxxxxxxxxx",
		"5 xxxxxxxxxxxxxx",
	}, recv.stdout.lines())
	assert.Empty(t, send.stdout.String())
	assert.Empty(t, send.stderr.String())
	assert.Equal(t, []string{"listening " + ep}, recv.stderr.lines())
}

// The sender binds and waits for the receiver that connects later; stdin
// lines are messages, tabs split frames, escapes are decoded, and recv
// prints them back in the same form.
func TestE2EStdinLines(t *testing.T) {
	in := "hello\n" +
		"three\tframe\tmessage\n" +
		"\n" + // one empty frame
		"bytes \\x00\\xff and \\\\ and \\t\n" +
		"café\tC:\\path\n" + // an unknown escape stays as typed
		"last line without newline"
	send := start(t, strings.NewReader(in), "send", "--type", "push", "--bind", "tcp://127.0.0.1:0")
	ep := send.stderr.waitEndpoint(t)
	recv := start(t, nil, "recv", "--type", "pull", "--connect", ep, "--count", "6")

	require.Equal(t, 0, send.wait(t), send.stderr.String())
	require.Equal(t, 0, recv.wait(t), recv.stderr.String())
	assert.Equal(t, []string{
		"hello",
		"three\tframe\tmessage",
		"",
		`bytes \x00\xff and \\ and \t`,
		`café` + "\t" + `C:\\path`,
		"last line without newline",
	}, recv.stdout.lines())
	assert.Empty(t, recv.stderr.String(), "recv bound nothing")
}

func TestE2EReqRep(t *testing.T) {
	rep := start(t, nil, "recv", "--type", "rep", "--bind", "tcp://127.0.0.1:0", "--count", "3")
	ep := rep.stderr.waitEndpoint(t)
	req := start(t, strings.NewReader("ping\nmulti\tpart\nx\\ty\n"), "send", "--type", "req", "--connect", ep)

	require.Equal(t, 0, req.wait(t), req.stderr.String())
	require.Equal(t, 0, rep.wait(t), rep.stderr.String())
	want := []string{"ping", "multi\tpart", `x\ty`}
	assert.Equal(t, want, rep.stdout.lines(), "requests")
	assert.Equal(t, want, req.stdout.lines(), "echoed replies")

	// Generated requests too.
	rep = start(t, nil, "recv", "--type", "rep", "--bind", "tcp://127.0.0.1:0", "--count", "2")
	ep = rep.stderr.waitEndpoint(t)
	req = start(t, nil, "send", "--type", "req", "--connect", ep, "--count", "2", "--size", "5")
	require.Equal(t, 0, req.wait(t), req.stderr.String())
	require.Equal(t, 0, rep.wait(t), rep.stderr.String())
	assert.Equal(t, []string{"1 xxx", "2 xxx"}, req.stdout.lines())
}

func TestE2EPubSub(t *testing.T) {
	t.Run("subscribe filters", func(t *testing.T) {
		sub := start(t, nil, "recv", "--type", "sub", "--bind", "tcp://127.0.0.1:0",
			"--subscribe", "foo", "--subscribe", "baz", "--count", "4")
		ep := sub.stderr.waitEndpoint(t)
		in := "bar\tnot this\n" +
			"foo\t1\n" +
			"fo\tnot this\n" +
			"foobar\t2\n" +
			"\n" +
			"quux\n" +
			"baz\n" +
			"foo\t3\tthree frames\n"
		pub := start(t, strings.NewReader(in), "send", "--type", "pub", "--connect", ep)

		require.Equal(t, 0, pub.wait(t), pub.stderr.String())
		require.Equal(t, 0, sub.wait(t), sub.stderr.String())
		assert.Equal(t, []string{"foo\t1", "foobar\t2", "baz", "foo\t3\tthree frames"}, sub.stdout.lines())
	})
	t.Run("topic frame", func(t *testing.T) {
		// The publisher binds and waits for the subscriber's subscription.
		pub := start(t, nil, "send", "--type", "pub", "--bind", "tcp://127.0.0.1:0",
			"--topic", "news", "--count", "3", "--size", "4")
		ep := pub.stderr.waitEndpoint(t)
		sub := start(t, nil, "recv", "--type", "sub", "--connect", ep, "--subscribe", "news", "--count", "3")

		require.Equal(t, 0, pub.wait(t), pub.stderr.String())
		require.Equal(t, 0, sub.wait(t), sub.stderr.String())
		assert.Equal(t, []string{"news\t1 xx", "news\t2 xx", "news\t3 xx"}, sub.stdout.lines())
	})
	t.Run("no subscribe is everything", func(t *testing.T) {
		sub := start(t, nil, "recv", "--type", "sub", "--bind", "tcp://127.0.0.1:0", "--count", "2")
		ep := sub.stderr.waitEndpoint(t)
		pub := start(t, strings.NewReader("a\n\\x01b\n"), "send", "--type", "pub", "--connect", ep)
		require.Equal(t, 0, pub.wait(t), pub.stderr.String())
		require.Equal(t, 0, sub.wait(t), sub.stderr.String())
		assert.Equal(t, []string{"a", `\x01b`}, sub.stdout.lines())
	})
}

func TestE2EErrors(t *testing.T) {
	for _, tc := range usageCases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			p := start(t, nil, tc.args...)
			assert.Equal(t, 2, p.wait(t))
			assert.Empty(t, p.stdout.String())
			oneLine(t, p.stderr.String(), tc.want...)
		})
	}
	t.Run("unknown command", func(t *testing.T) {
		p := start(t, nil, "frobnicate", "--bind", "tcp://127.0.0.1:0")
		assert.Equal(t, 2, p.wait(t))
		oneLine(t, p.stderr.String(), `zmqkit: unknown command "frobnicate"`)
	})
	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		ep := "tcp://" + ln.Addr().String()
		p := start(t, nil, "recv", "--type", "pull", "--bind", ep)
		assert.Equal(t, 1, p.wait(t))
		assert.Empty(t, p.stdout.String())
		assert.Equal(t, "zmqkit recv: --bind "+ep+": address already in use\n", p.stderr.String())
	})
	t.Run("no peer", func(t *testing.T) {
		p := start(t, nil, "send", "--type", "push", "--connect", "tcp://127.0.0.1:1", "--count", "1", "--timeout", "200ms")
		assert.Equal(t, 1, p.wait(t))
		oneLine(t, p.stderr.String(), "zmqkit send: no peer connected within 200ms (last attempt: ", "connection refused")
	})
}

func TestE2ESignals(t *testing.T) {
	t.Run("recv SIGINT", func(t *testing.T) {
		p := start(t, nil, "recv", "--type", "pull", "--bind", "tcp://127.0.0.1:0")
		p.stderr.waitEndpoint(t)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
		assert.Equal(t, 0, p.wait(t))
		assert.Len(t, p.stderr.lines(), 1, p.stderr.String())
	})
	t.Run("send SIGTERM while reading stdin", func(t *testing.T) {
		// An OS pipe that stays open: no copying goroutine for Wait to
		// wait for.
		pr, pw, err := os.Pipe()
		require.NoError(t, err)
		defer pw.Close()
		defer pr.Close()
		p := start(t, pr, "send", "--type", "push", "--bind", "tcp://127.0.0.1:0")
		p.stderr.waitEndpoint(t)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, p.wait(t))
		assert.Len(t, p.stderr.lines(), 1, p.stderr.String())
	})
	t.Run("send SIGINT while waiting for a subscriber", func(t *testing.T) {
		p := start(t, nil, "send", "--type", "pub", "--bind", "tcp://127.0.0.1:0", "--count", "1", "--timeout", "0")
		p.stderr.waitEndpoint(t)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
		assert.Equal(t, 0, p.wait(t))
	})
}

// The bench says, first thing, how the Go collector runs: Go's defaults,
// unless GOGC or GOMEMLIMIT is set in the environment.
func TestE2EBenchStatesGC(t *testing.T) {
	run := func(env []string, sizes string) string {
		cmd := exec.CommandContext(testutil.Context(t, 30*time.Second), binPath, "bench", "--patterns", "pushpull",
			"--transport", "inproc", "--sizes", sizes, "--duration", "20ms", "--runs", "1", "--no-baselines")
		cmd.Env = append(withoutGCEnv(), env...)
		out, err := cmd.Output()
		require.NoError(t, err)
		first, _, _ := strings.Cut(string(out), "\n")
		return first
	}
	assert.Equal(t, "Go GC: GOGC=100 GOMEMLIMIT=none (Go's defaults, as a service runs)", run(nil, "128"))
	assert.Equal(t, "Go GC: GOGC=150 GOMEMLIMIT=none, from the environment", run([]string{"GOGC=150"}, "128"))
	assert.Equal(t, "Go GC: GOGC=100 GOMEMLIMIT=1GiB, from the environment", run([]string{"GOMEMLIMIT=1GiB"}, "128,100000"))
}

func withoutGCEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	return env
}
