package main

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/zmqkit/zmqkit/internal/testutil"
)

// assertFree fails t unless addr can be listened on (nothing holds it).
func assertFree(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if assert.NoError(t, err, "%s is still bound", addr) {
		_ = ln.Close()
	}
}

// Every command validates all of its flags before it binds or connects
// anything: a bad value among good endpoints is one line on stderr, exit
// status 2, no "listening" line and the good endpoint's port left free.
// (Before, a device bound and logged its frontend before it refused a bad
// --backend or --metrics, and the latter exited 1.)
func TestBadFlagBindsNothing(t *testing.T) {
	good := testutil.FreePort(t)
	ep := "tcp://" + good
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"queue", "--frontend", ep, "--backend", "tcp://127.0.0.1:port"}, "--backend: invalid endpoint"},
		{[]string{"streamer", "--frontend", ep, "--backend", ">tcp://*:5555"}, "cannot connect to host *"},
		{[]string{"forwarder", "--frontend", ep, "--backend", "tcp://127.0.0.1:0", "--capture", "udp://x:1"}, "--capture: invalid endpoint"},
		{[]string{"queue", "--frontend", ep, "--backend", "tcp://127.0.0.1:0", "--control", "nonsense"}, "--control: invalid endpoint"},
		{[]string{"queue", "--frontend", ep, "--backend", "tcp://127.0.0.1:0", "--metrics", "nonsense"}, "--metrics \"nonsense\": want host:port"},
		{[]string{"streamer", "--frontend", ep, "--backend", "tcp://127.0.0.1:0", "--metrics", "127.0.0.1:99999"}, "bad port"},
		{[]string{"forwarder", "--frontend", ep, "--backend", "tcp://127.0.0.1:0", "--hwm", "-1"}, "--hwm"},
		{[]string{"forwarder", "--frontend", ep, "--backend", "tcp://127.0.0.1:0", "--log-format", "xml"}, "--log-format"},
		{[]string{"broker", "--bind", ep + ",tcp://127.0.0.1:x"}, "--bind: invalid endpoint"},
		{[]string{"broker", "--bind", ep, "--metrics", "localhost"}, "--metrics \"localhost\": want host:port"},
		{[]string{"broker", "--bind", ep, "--heartbeat", "0s"}, "--heartbeat"},
		{[]string{"send", "--type", "push", "--bind", ep, "--connect", "tcp://*:1"}, "--connect: invalid endpoint"},
		{[]string{"send", "--type", "push", "--bind", ep, "--count", "0"}, "--count"},
		{[]string{"recv", "--type", "pull", "--bind", ep, "--bind", "ipc://"}, "--bind: invalid endpoint"},
		{[]string{"recv", "--type", "pull", "--bind", ep, "--subscribe", "a"}, "--subscribe"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, c.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			oneLine(t, errOut, "zmqkit "+c.args[0]+": ", c.want)
			assert.NotContains(t, errOut, "listening")
			assertFree(t, good)
		})
	}
}
