package sockets_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/sockets"
)

// With WithPubNoDrop a publisher waits for a slow subscriber instead of
// dropping: every message arrives, in order.
func TestPubNoDropWaitsForTheSlowest(t *testing.T) {
	// 16 MiB in all: more than the kernel's socket buffers hold, so over
	// tcp and ipc too the publisher meets a full queue.
	const n, size = 1000, 16 << 10
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 20*time.Second)
			pub := semNew(t, sockets.Pub, sockets.WithPubNoDrop(true), sockets.WithSendHWM(10))
			addr := semListen(t, pub, tr)
			sub := semNew(t, sockets.Sub, sockets.WithSubscribe(""), sockets.WithRecvHWM(10))
			require.NoError(t, sub.Dial(addr))
			rbAwaitSubscribed(t, ctx, pub, sub)
			done := make(chan error, 1)
			go func() {
				for i := 0; i < n; i++ {
					body := make([]byte, size)
					copy(body, fmt.Sprint(i))
					if err := pub.Send(ctx, body); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			// Reading slowly at first: the publisher must wait, not drop.
			time.Sleep(100 * time.Millisecond)
			got := 0
			for got < n {
				m, err := sub.Recv(ctx)
				require.NoError(t, err)
				if string(m[0]) == "probe" {
					continue
				}
				require.Equal(t, fmt.Sprint(got), string(bytes.TrimRight(m[0], "\x00")), "in order, none lost")
				got++
			}
			require.NoError(t, <-done)
			assert.Zero(t, pub.Stats().Dropped)
		})
	}
}

// A Send that gives up at its deadline gives the message to no one, not
// to the fast subscribers only.
func TestPubNoDropAllOrNone(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	pub := semNew(t, sockets.Pub, sockets.WithPubNoDrop(true), sockets.WithSendHWM(1))
	addr := semListen(t, pub, "inproc")
	fast := semNew(t, sockets.Sub, sockets.WithSubscribe(""), sockets.WithRecvHWM(1))
	slow := semNew(t, sockets.Sub, sockets.WithSubscribe(""), sockets.WithRecvHWM(1))
	require.NoError(t, fast.Dial(addr))
	require.NoError(t, slow.Dial(addr))
	rbAwaitSubscribed(t, ctx, pub, fast, slow)
	for _, s := range []*sockets.Socket{fast, slow} { // probes left over
		for {
			if _, err := semTryRecv(s, 50*time.Millisecond); err != nil {
				break
			}
		}
	}
	// Fill the slow subscriber's queue (inproc: send HWM + receive HWM).
	for {
		sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := pub.Send(sctx, []byte("fill"))
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			break
		}
		_, err = semTryRecv(fast, time.Second) // fast keeps up
		require.NoError(t, err)
	}
	// The timed-out message reached neither.
	semNoMsg(t, fast, 50*time.Millisecond)
	n := 0
	for {
		m, err := semTryRecv(slow, 50*time.Millisecond)
		if err != nil {
			break
		}
		assert.Equal(t, "fill", string(m[0]))
		n++
	}
	assert.Positive(t, n)
	assert.Zero(t, pub.Stats().Dropped)

	_, err := sockets.New(sockets.Sub, sockets.WithPubNoDrop(true))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}
