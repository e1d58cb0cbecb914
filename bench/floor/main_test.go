package main

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestSendAndRecvCountEveryMessage(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, queue := range []int{0, 7} {
		t.Run(fmt.Sprintf("recv queue %d", queue), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			var out bytes.Buffer
			done := make(chan error, 1)
			go func() { done <- recv(ln, 3000, queue, &out) }()
			// more messages than one writev gathers, through a queue of 200
			require.NoError(t, send(ln.Addr().String(), 5000, 3000, 200))
			require.NoError(t, <-done)
			assert.Contains(t, out.String(), "message size: 5000 [B]\nmessage count: 3000\nmean throughput: ")
		})
	}
}

func TestRecvFailsOnAShortStream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- recv(ln, 10, 0, &bytes.Buffer{}) }()
	require.NoError(t, send(ln.Addr().String(), 8, 9, 4))
	assert.ErrorContains(t, <-done, "message 9")
}

func TestUsage(t *testing.T) {
	assert.ErrorContains(t, run(nil), "usage")
	assert.ErrorContains(t, run([]string{"send", "x", "0", "1", "1"}), "want a positive number")
	assert.ErrorContains(t, run([]string{"fly", "x", "1"}), "usage")
}
