package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out), out.String())
	got := out.String()
	for _, want := range []string{
		`lazy pirate: "hello" -> "server 1 says HELLO" (1 try)`,
		"server 1 crashed",
		"try 1 lost: ", // the deadline, or the connection that took it ended (which wins is timing)
		`lazy pirate: "again" -> "server 2 says AGAIN" (2 tries)`,
		"lazy pirate: a server that never answers: gave up after 3 tries in",
		"try 1 failed: tcp://",
		`freelance: "ping" -> "C says PING" (2 tries)`,
		`freelance: "pong" -> "C says PONG" (1 try)`,
	} {
		assert.Contains(t, got, want)
	}
}
