package sockets

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
)

// What peers that write without pause make a STREAM socket hold, before
// anyone calls Recv, stops at the bounds: the connections stop reading.
func TestStreamHoldsBounded(t *testing.T) {
	const chunkCost = streamReadChunk + 5 + 2*32
	for _, tc := range []struct {
		name  string
		opts  []Option
		conns int
		// bounds on what each peer, and all of them, hold once full
		msgs        int
		peerBytes   int64
		socketBytes int64
	}{
		{"hwm", []Option{WithRecvHWM(3)}, 1, 3, 3 * chunkCost, 3 * chunkCost},
		{"bytes", []Option{WithRecvBufferBytes(20000)}, 1, 1000, 20000, 20000},
		{"socket", []Option{WithSocketBufferBytes(0, 30000)}, 3, 1000, 30000, 30000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStream(tc.opts...)
			require.NoError(t, err)
			defer s.Close()
			addr, err := s.Listen("tcp://127.0.0.1:0")
			require.NoError(t, err)
			var wg sync.WaitGroup
			for range tc.conns {
				c, err := net.Dial("tcp", strings.TrimPrefix(addr, "tcp://"))
				require.NoError(t, err)
				defer c.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = c.Write(bytes.Repeat([]byte("z"), 4<<20)) // ends when closed
				}()
			}
			x := s.b.(*streamSocket)
			// Every sample on the way must be within the bounds.
			var maxMsgs int
			var maxPeer, maxHeld int64
			testutil.Eventually(t, 10*time.Second, func() bool {
				x.mu.Lock()
				defer x.mu.Unlock()
				maxHeld = max(maxHeld, x.held)
				full := len(x.peers) == tc.conns
				for _, p := range x.peers {
					maxMsgs, maxPeer = max(maxMsgs, p.msgs), max(maxPeer, p.bytes)
					if x.roomFor(p) > 0 && x.socketRoom(p.cost(streamReadChunk)) {
						full = false // p may read a whole chunk and queue it
					}
				}
				return full
			}, "every connection stops reading at a bound")
			assert.LessOrEqual(t, maxMsgs, tc.msgs)
			assert.LessOrEqual(t, maxPeer, tc.peerBytes)
			assert.LessOrEqual(t, maxHeld, tc.socketBytes)
			require.NoError(t, s.Close())
			wg.Wait()
		})
	}
}
