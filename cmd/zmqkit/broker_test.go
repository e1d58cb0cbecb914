package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/sockets"
)

func TestBrokerProcess(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	d := startDevice(t, nil, "broker", "--bind", "tcp://127.0.0.1:0,@tcp://127.0.0.1:0", "--heartbeat", "100ms",
		"--metrics", "127.0.0.1:0")
	eps := d.all
	require.Len(t, eps, 2)

	w, err := majordomo.NewWorker(eps[0], "echo", func(_ context.Context, req [][]byte) ([][]byte, error) {
		return append([][]byte{[]byte("echo:")}, req...), nil
	}, majordomo.WithHeartbeat(100*time.Millisecond, 3))
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()

	c, err := majordomo.NewClient(eps[1], majordomo.WithRetry(2*time.Second, 3))
	require.NoError(t, err)
	defer c.Close()
	reply, err := c.Send(ctx, "echo", []byte("hi"))
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("echo:"), []byte("hi")}, reply)
	found, err := c.Send(ctx, "mmi.service", []byte("echo"))
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("200")}, found)
	missing, err := c.Send(ctx, "mmi.service", []byte("nope"))
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("404")}, missing)
	code, body := get(t, "http://"+d.metrics+"/readyz")
	assert.Equal(t, 200, code)
	assert.Equal(t, "ready\n", body, "both --bind endpoints bound")
	m := scrape(t, d.metrics)
	assert.Contains(t, m, "zmqkit_broker_workers 1")
	assert.Contains(t, m, "zmqkit_broker_replies_total 1")

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

func TestBrokerErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"broker"}, "missing --bind"},
		{[]string{"broker", "--bind", ">tcp://127.0.0.1:5555"}, "a broker binds"},
		{[]string{"broker", "--bind", "bad"}, "invalid endpoint"},
		{[]string{"broker", "--bind", "tcp://127.0.0.1:0", "--liveness", "0"}, "--liveness"},
	} {
		code, _, errOut := runCmd(t, c.args...)
		assert.Equal(t, 2, code, c.args)
		oneLine(t, errOut, c.want)
	}
	busy, err := sockets.NewPull()
	require.NoError(t, err)
	defer busy.Close()
	addr, err := busy.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	p := start(t, nil, "broker", "--bind", addr)
	assert.Equal(t, 1, p.wait(t))
	lines := p.stderr.lines()
	require.NotEmpty(t, lines)
	assert.Equal(t, "zmqkit broker: --bind "+addr+": address already in use", lines[len(lines)-1])
}

// The recipe in 'zmqkit broker --help' works as written: a REQ client
// from the shell asks mmi.service, a Go worker registers "echo", and the
// client's request comes back. The broker's records name an MDP service
// under one "service" key only (it once added its own "service":"broker").
func TestBrokerHelpRecipe(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	d := startDevice(t, nil, "broker", "--bind", "tcp://127.0.0.1:0", "--log-level", "debug")
	ep := d.all[0]
	shell := func(line string) string {
		t.Helper()
		p := start(t, strings.NewReader(line), "send", "--type", "req", "--connect", ep, "--timeout", "5s")
		require.Equal(t, 0, p.wait(t), p.stderr.String())
		return p.stdout.String()
	}
	assert.Equal(t, "MDPC01\tmmi.service\t404\n", shell("MDPC01\tmmi.service\techo\n"))

	echo := func(_ context.Context, req [][]byte) ([][]byte, error) {
		return req, nil
	}
	w, err := majordomo.NewWorker(ep, "echo", echo)
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()

	testutil.Eventually(t, 10*time.Second, func() bool {
		return shell("MDPC01\tmmi.service\techo\n") == "MDPC01\tmmi.service\t200\n"
	}, "mmi.service never found the echo worker")
	assert.Equal(t, "MDPC01\techo\thello\n", shell("MDPC01\techo\thello\n"))

	d.stderr.waitFor(t, 0, `"msg":"majordomo: worker ready"`, 5*time.Second)
	for _, line := range d.stderr.lines() {
		assert.LessOrEqual(t, strings.Count(line, `"service":`), 1, "duplicate key in %s", line)
	}
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}
