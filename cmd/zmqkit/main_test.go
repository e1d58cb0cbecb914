package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"go.uber.org/goleak"
)

// binPath is the zmqkit binary that TestMain builds for the end-to-end
// tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zmqkit-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		goBin, err := exec.LookPath("go")
		if err != nil {
			fmt.Fprintln(os.Stderr, "building zmqkit: no go command in PATH:", err)
			return 1
		}
		binPath = filepath.Join(dir, "zmqkit")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goBin, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building zmqkit: %v\n%s", err, out)
			return 1
		}
		code := m.Run()
		if code == 0 {
			// The in-process tests run sockets: none may leave goroutines.
			if err := goleak.Find(); err != nil {
				fmt.Fprintln(os.Stderr, "goleak:", err)
				code = 1
			}
		}
		return code
	}()
	os.Exit(code)
}

// output collects what a command writes, safely for concurrent readers, and
// can wait for a line.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{}, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	n, err := o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// lines is the output split into lines (no trailing empty one).
func (o *output) lines() []string {
	s := o.String()
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// waitLine waits for a complete line starting with prefix and returns the
// rest of it.
func (o *output) waitLine(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s := o.String()
		for len(s) > 0 {
			line, rest, ok := strings.Cut(s, "\n")
			if !ok {
				break
			}
			if strings.HasPrefix(line, prefix) {
				return strings.TrimPrefix(line, prefix)
			}
			s = rest
		}
		select {
		case <-o.changed:
		case <-deadline.C:
			require.FailNowf(t, "line not seen", "no line %q within %v; got %q", prefix, d, o.String())
		}
	}
}

// waitFor waits until what was written after the first from bytes
// contains want (a log line of a running process, say).
func (o *output) waitFor(t *testing.T, from int, want string, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !strings.Contains(o.String()[from:], want) {
		select {
		case <-o.changed:
		case <-deadline.C:
			require.FailNowf(t, "output not seen", "no %q within %v; got %q", want, d, o.String())
		}
	}
}

// waitEndpoint waits for the "listening <endpoint>" line of a command.
func (o *output) waitEndpoint(t *testing.T) string {
	t.Helper()
	ep := o.waitLine(t, "listening ", 5*time.Second)
	require.True(t, strings.HasPrefix(ep, "tcp://127.0.0.1:"), "endpoint %q", ep)
	return ep
}

// runCmd calls a command in-process and returns its status and outputs.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(testutil.Context(t, 10*time.Second), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// oneLine asserts that s is exactly one line containing each of subs.
func oneLine(t *testing.T, s string, subs ...string) {
	t.Helper()
	assert.Equal(t, 1, strings.Count(s, "\n"), "want one line, got %q", s)
	assert.True(t, strings.HasSuffix(s, "\n"), "want one line, got %q", s)
	for _, sub := range subs {
		assert.Contains(t, s, sub)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}} {
		code, out, errOut := runCmd(t, args...)
		assert.Equal(t, 0, code, args)
		assert.Empty(t, errOut, args)
		for _, c := range commands {
			assert.Contains(t, out, "  "+c.name+" ", args)
		}
	}
	for _, c := range commands {
		for _, args := range [][]string{{"help", c.name}, {c.name, "-h"}, {c.name, "--help"}} {
			code, out, errOut := runCmd(t, args...)
			assert.Equal(t, 0, code, args)
			assert.Empty(t, errOut, args)
			assert.Regexp(t, "^Usage: zmqkit "+c.name+"[ \n]", out, args)
			flagOf := map[string]string{"send": "-connect endpoint", "recv": "-connect endpoint",
				"forwarder": "-frontend endpoints", "queue": "-frontend endpoints", "streamer": "-frontend endpoints",
				"bench": "-duration duration", "broker": "-bind endpoints",
				"keygen":  "public: <key>", // keygen has no flags: its output format instead
				"version": "unless told not", "web": "-max-peers int"}
			require.Contains(t, flagOf, c.name, "a new command needs its help checked here")
			assert.Contains(t, out, flagOf[c.name], args)
			// The prose (after the usage lines, before the flags) fits
			// an 80-column terminal.
			_, prose, _ := strings.Cut(out, "\n\n")
			prose, _, _ = strings.Cut(prose, "\nFlags:\n")
			for _, line := range strings.Split(prose, "\n") {
				assert.LessOrEqual(t, utf8.RuneCountInString(line), 80, "%v: line too long: %q", args, line)
			}
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	code, out, errOut := runCmd(t, "frobnicate", "--type", "push")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	oneLine(t, errOut, `unknown command "frobnicate"`)

	code, _, errOut = runCmd(t, "help", "frobnicate")
	assert.Equal(t, 2, code)
	oneLine(t, errOut, `unknown command "frobnicate"`)

	code, out, errOut = runCmd(t, "--bogus")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	oneLine(t, errOut, `unknown command "--bogus"`)

	// No command at all: the usage, on stderr.
	code, out, errOut = runCmd(t)
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "Commands:")
}
