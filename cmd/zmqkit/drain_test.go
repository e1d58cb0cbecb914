package main

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// SIGTERM to a queue with a request at a slow worker: the device logs that
// it is draining at once, takes no request sent after that, and routes the
// slow worker's reply before it exits.
func TestDeviceQueueSIGTERMDrainsReplies(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	d := startDevice(t, nil, "queue", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--linger", "10s")
	worker := sock(t, sockets.Rep)
	require.NoError(t, worker.Dial(d.eps["backend"]))
	early, late := sock(t, sockets.Req), sock(t, sockets.Req)
	require.NoError(t, early.Dial(d.eps["frontend"]))
	require.NoError(t, late.Dial(d.eps["frontend"]))
	waitPeers(t, worker, 1)
	waitPeers(t, early, 1)
	waitPeers(t, late, 1)

	require.NoError(t, early.Send(ctx, []byte("in flight")))
	req, err := worker.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "in flight", string(req[0]))

	mark := len(d.stderr.String())
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	d.stderr.waitFor(t, mark, `draining"`, 10*time.Second)
	require.NoError(t, late.Send(ctx, []byte("too late")))

	require.NoError(t, worker.Send(ctx, []byte("answer")))
	rep, err := early.Recv(ctx)
	require.NoError(t, err, "the reply was lost in the drain; log: %s", d.stderr.String())
	assert.Equal(t, "answer", string(rep[0]))
	assert.Equal(t, 0, d.wait(t))

	var stopped map[string]any
	for _, line := range d.stderr.lines() {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "stopped" {
			stopped = rec
		}
	}
	require.NotNil(t, stopped, "no stopped line: %s", d.stderr.String())
	assert.EqualValues(t, 1, stopped["backend_out"], "requests given to the worker")
	assert.EqualValues(t, 1, stopped["frontend_out"], "replies routed")
}
