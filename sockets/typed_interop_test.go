//go:build interop

package sockets_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// startPy runs a pyzmq script with the endpoint as its argument and returns
// a function that waits for its stdout.
func startPy(t *testing.T, script, endpoint string) func() string {
	t.Helper()
	iopRequireLibzmq(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, iopPython(), "-c", script, endpoint)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return func() string {
		select {
		case err := <-done:
			done <- err
			require.NoError(t, err, "python: %s", errb.String())
			return out.String()
		case <-ctx.Done():
			t.Fatalf("python did not finish: %s", errb.String())
			return ""
		}
	}
}

// A typed JSON PUB is readable by pyzmq's recv_json.
func TestInteropTypedPubToPyzmqRecvJSON(t *testing.T) {
	ctx := ctxT(t)
	pub, err := sockets.NewPubOf(codec.JSON[job]())
	require.NoError(t, err)
	defer pub.Close()
	addr, err := pub.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	wait := startPy(t, `
import sys, json, zmq
s = zmq.Context.instance().socket(zmq.SUB)
s.setsockopt(zmq.RCVTIMEO, 15000)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.connect(sys.argv[1])
print(json.dumps(s.recv_json()))
`, addr)
	// Publish until the subscriber has joined and taken one.
	var out string
	finished := make(chan string, 1)
	go func() { finished <- wait() }()
	for i := 0; i < 1500 && out == ""; i++ {
		require.NoError(t, pub.Publish(ctx, "", job{ID: 42, Name: "typed"}))
		select {
		case out = <-finished:
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.NotEmpty(t, out)
	var got job
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, job{ID: 42, Name: "typed"}, got)
}

// A pyzmq send_json REQ gets a typed Go reply, and an error reply it can read.
func TestInteropPyzmqSendJSONToTypedRep(t *testing.T) {
	ctx := ctxT(t)
	rep, err := sockets.NewRepOf(codec.JSON[job](), codec.JSON[job]())
	require.NoError(t, err)
	defer rep.Close()
	addr, err := rep.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() {
		served <- rep.Serve(ctx, func(_ context.Context, j job) (job, error) {
			if j.ID < 0 {
				return job{}, assert.AnError
			}
			return job{ID: j.ID * 2, Name: strings.ToUpper(j.Name)}, nil
		})
	}()
	out := startPy(t, `
import sys, json, zmq
s = zmq.Context.instance().socket(zmq.REQ)
s.setsockopt(zmq.RCVTIMEO, 15000)
s.connect(sys.argv[1])
s.send_json({"id": 21, "name": "py"})
print(json.dumps(s.recv_json()))
s.send_json({"id": -1, "name": "bad"})
print(json.dumps([f.decode() for f in s.recv_multipart()]))
`, addr)()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	var got job
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	assert.Equal(t, job{ID: 42, Name: "PY"}, got)
	var errReply []string
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &errReply))
	require.Len(t, errReply, 2)
	assert.Equal(t, "zmqkit.error", errReply[0])
	assert.Contains(t, errReply[1], assert.AnError.Error())
	require.NoError(t, rep.Close())
	assert.ErrorIs(t, <-served, sockets.ErrClosed)
}
