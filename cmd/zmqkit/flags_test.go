package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/zmqkit/zmqkit/internal/testutil"
)

// usageCases are command lines that must fail with status 2 and a one-line
// error naming the problem. They are checked in-process here and through
// the binary in TestE2EErrors.
var usageCases = []struct {
	args []string
	want []string // substrings of the error line
}{
	// send
	{[]string{"send", "--connect", "tcp://127.0.0.1:1"}, []string{"zmqkit send: ", "missing --type", "push, pub, req, dealer, pair"}},
	{[]string{"send", "--type", "pull", "--connect", "tcp://127.0.0.1:1"}, []string{`--type "pull" does not fit send`}},
	{[]string{"send", "--type", "bogus", "--connect", "tcp://127.0.0.1:1"}, []string{`--type "bogus"`}},
	{[]string{"send", "--type", "push"}, []string{"need at least one --bind or --connect"}},
	{[]string{"send", "--type", "push", "--topic", "a", "--connect", "tcp://127.0.0.1:1"}, []string{"--topic is for --type pub only"}},
	{[]string{"send", "--type", "dealer", "--topic", "a", "--connect", "tcp://127.0.0.1:1"}, []string{"--topic is for --type pub only"}},
	{[]string{"send", "--type", "push", "--count", "0", "--connect", "tcp://127.0.0.1:1"}, []string{"--count must be at least 1"}},
	{[]string{"send", "--type", "push", "--count", "x", "--connect", "tcp://127.0.0.1:1"}, []string{`invalid value "x" for flag -count`}},
	{[]string{"send", "--type", "push", "--size", "10", "--connect", "tcp://127.0.0.1:1"}, []string{"--size needs --count"}},
	{[]string{"send", "--type", "push", "--count", "1", "--size", "-1", "--connect", "tcp://127.0.0.1:1"}, []string{"--size must not be negative"}},
	{[]string{"send", "--type", "push", "--timeout", "-1s", "--connect", "tcp://127.0.0.1:1"}, []string{"--timeout must not be negative"}},
	{[]string{"send", "--type", "push", "--subscribe", "a", "--connect", "tcp://127.0.0.1:1"}, []string{"flag provided but not defined: -subscribe"}},
	{[]string{"send", "--type", "push", "--connect", "tcp://127.0.0.1:1", "extra"}, []string{`unexpected argument "extra"`}},
	{[]string{"send", "--type", "push", "--connect", "inproc://x"}, []string{`invalid endpoint "inproc://x"`, "inproc only reaches"}},
	{[]string{"send", "--type", "push", "--connect", "tcp://127.0.0.1"}, []string{"--connect: invalid endpoint", "tcp://127.0.0.1"}},
	{[]string{"send", "--type", "push", "--connect", "tcp://*:5555"}, []string{"--connect: invalid endpoint", "cannot connect to host *"}},
	{[]string{"send", "--type", "pub", "--bind", "udp://127.0.0.1:5555"}, []string{"--bind: invalid endpoint", `unknown transport "udp"`}},
	{[]string{"send", "--type", "push", "--bind", "127.0.0.1:5555"}, []string{"--bind: invalid endpoint"}},
	// recv
	{[]string{"recv", "--bind", "tcp://127.0.0.1:0"}, []string{"zmqkit recv: ", "missing --type", "pull, sub, rep, router, dealer, pair"}},
	{[]string{"recv", "--type", "push", "--bind", "tcp://127.0.0.1:0"}, []string{`--type "push" does not fit recv`}},
	{[]string{"recv", "--type", "pub", "--bind", "tcp://127.0.0.1:0"}, []string{`--type "pub" does not fit recv`}},
	{[]string{"recv", "--type", "req", "--bind", "tcp://127.0.0.1:0"}, []string{`--type "req" does not fit recv`}},
	{[]string{"recv", "--type", "pull"}, []string{"need at least one --bind or --connect"}},
	{[]string{"recv", "--type", "pull", "--subscribe", "a", "--bind", "tcp://127.0.0.1:0"}, []string{"--subscribe is for --type sub only"}},
	{[]string{"recv", "--type", "pull", "--topic", "a", "--bind", "tcp://127.0.0.1:0"}, []string{"flag provided but not defined: -topic"}},
	{[]string{"recv", "--type", "pull", "--count", "-1", "--bind", "tcp://127.0.0.1:0"}, []string{"--count must not be negative"}},
	{[]string{"recv", "--type", "sub", "--bind", "tcp://127.0.0.1:port"}, []string{"--bind: invalid endpoint", "bad port"}},
	{[]string{"recv", "--type", "pull", "--bind", "tcp://127.0.0.1:0", "--connect", "nonsense"}, []string{"--connect: invalid endpoint", `"nonsense"`}},
	// CURVE (a key of 40 zeros is valid Z85; '~' is no Z85 digit)
	{[]string{"send", "--type", "push", "--connect", "tcp://127.0.0.1:1", "--curve-server", strings.Repeat("0", 40)}, []string{"--curve-server needs --curve-secret"}},
	{[]string{"send", "--type", "push", "--connect", "tcp://127.0.0.1:1", "--curve-secret", strings.Repeat("~", 40)}, []string{"--curve-secret: not valid Z85"}},
	{[]string{"recv", "--type", "pull", "--bind", "tcp://127.0.0.1:0", "--curve-clients", strings.Repeat("0", 40)}, []string{"--curve-clients is for a CURVE server"}},
	{[]string{"recv", "--type", "pull", "--bind", "tcp://127.0.0.1:0", "--curve-secret", strings.Repeat("0", 40), "--curve-server", strings.Repeat("~", 40)}, []string{"--curve-server: ", "is not valid Z85", "invalid character"}},
	{[]string{"keygen", "extra"}, []string{"zmqkit keygen: ", `unexpected argument "extra"`}},
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range usageCases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			oneLine(t, errOut, tc.want...)
		})
	}
}

// The subcommand functions can be called directly, as a future command
// would be tested.
func TestParseValid(t *testing.T) {
	o, err := parseSend([]string{"--type", "PUB", "--bind", "tcp://*:0", "--connect", "tcp://127.0.0.1:1",
		"--connect", "ipc:///tmp/x", "--count", "3", "--topic", "", "--timeout", "1s"}, nil)
	if assert.NoError(t, err) {
		assert.EqualValues(t, "PUB", o.typ)
		assert.Equal(t, []string{"tcp://*:0"}, o.eps.binds)
		assert.Equal(t, []string{"tcp://127.0.0.1:1", "ipc:///tmp/x"}, o.eps.connects)
		assert.Equal(t, 3, o.count)
		assert.Equal(t, 128, o.size)
		assert.Equal(t, []byte{}, o.topic, "an empty --topic is still a topic frame")
		assert.Equal(t, time.Second, o.timeout)
	}
	o, err = parseSend([]string{"--type", "req", "--connect", "tcp://127.0.0.1:1"}, nil)
	if assert.NoError(t, err) {
		assert.Zero(t, o.count, "no --count: stdin")
		assert.Nil(t, o.topic)
		assert.Equal(t, 10*time.Second, o.timeout)
	}

	r, err := parseRecv([]string{"--type", "sub", "--connect", "tcp://127.0.0.1:1", "--subscribe", "a", "--subscribe", ""}, nil)
	if assert.NoError(t, err) {
		assert.Equal(t, []string{"a", ""}, r.subs)
		assert.Zero(t, r.count)
		assert.Zero(t, r.timeout)
	}
}

func TestSubcommandHelpGoesToStdout(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runRecv(testutil.Context(t, time.Second), []string{"-h"}, nil, &out, &errOut)
	assert.Equal(t, 0, code)
	assert.Empty(t, errOut.String())
	assert.Contains(t, out.String(), "-subscribe prefix")
}
