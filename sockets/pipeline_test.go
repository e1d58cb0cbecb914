package sockets_test

// RFC 30 (PIPELINE): PUSH load-balances round-robin, PULL fair-queues; and
// sockets are safe for concurrent use.

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// One PUSH, three connected PULLs, N messages: every message is delivered
// exactly once, and round-robin gives each PULL N/3 (±1). With N/3 below
// every HWM no pipe is ever full, so the split is exact.
func TestSemPushRoundRobin(t *testing.T) {
	const n = 3000
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 15*time.Second)
			push := semNew(t, sockets.Push)
			addr := semListen(t, push, tr)
			pulls := make([]*sockets.Socket, 3)
			for i := range pulls {
				pulls[i] = semNew(t, sockets.Pull)
				require.NoError(t, pulls[i].Dial(addr))
			}
			// Only once the three are attached does round-robin see them all.
			semWaitEvents(t, push, sockets.EventConnected, 3, 10*time.Second)
			require.EqualValues(t, 3, push.Stats().Peers)

			var counts [3]atomic.Int64
			var total atomic.Int64
			rctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			seen := make([][]uint32, 3)
			for i, pull := range pulls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						m, err := pull.Recv(rctx)
						if err != nil {
							return
						}
						seen[i] = append(seen[i], binary.BigEndian.Uint32(m[0]))
						counts[i].Add(1)
						total.Add(1)
					}
				}()
			}
			for i := 0; i < n; i++ {
				b := make([]byte, 4)
				binary.BigEndian.PutUint32(b, uint32(i))
				require.NoError(t, push.Send(ctx, b))
			}
			semEventually(t, 10*time.Second, func() bool { return total.Load() >= n },
				"%d messages received, got %d", n, total.Load())
			// Nothing more may come: no duplicates.
			for _, pull := range pulls {
				semNoMsg(t, pull, 20*time.Millisecond)
			}
			stop()
			wg.Wait()
			require.EqualValues(t, n, total.Load())
			all := make(map[uint32]bool, n)
			for i := range pulls {
				c := counts[i].Load()
				assert.InDelta(t, n/3, c, 1, "PULL %d got %d of %d", i, c, n)
				// Each PULL sees every third message, in order.
				for j := 1; j < len(seen[i]); j++ {
					assert.Equal(t, seen[i][j-1]+3, seen[i][j], "PULL %d: message %d after %d", i, seen[i][j], seen[i][j-1])
				}
				for _, v := range seen[i] {
					all[v] = true
				}
			}
			assert.Len(t, all, n)
			assert.EqualValues(t, n, push.Stats().MsgsOut)
		})
	}
}

// Three PUSHes send M messages each as fast as they can to one PULL that
// receives nothing at first. Once every message is waiting at the PULL (all
// three peers have finished and gone: everything they sent has been read
// off their connections), the PULL must deliver them fair-queued: one from
// each sender in turn, so every run of three consecutive messages holds all
// three senders, and each sender's messages stay in order.
func TestSemPullFairQueue(t *testing.T) {
	const m = 300
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 15*time.Second)
			pull := semNew(t, sockets.Pull)
			addr := semListen(t, pull, tr)
			pushes := make([]*sockets.Socket, 3)
			for i := range pushes {
				pushes[i] = semNew(t, sockets.Push)
				require.NoError(t, pushes[i].Dial(addr))
			}
			semWaitEvents(t, pull, sockets.EventConnected, 3, 10*time.Second)

			start := make(chan struct{})
			errs := make(chan error, 3)
			for i, push := range pushes {
				go func() {
					<-start
					for j := 0; j < m; j++ {
						if err := push.Send(ctx, []byte{byte(i)}, []byte(fmt.Sprint(j))); err != nil {
							errs <- err
							return
						}
					}
					errs <- push.Close() // writes out what is queued, then hangs up
				}()
			}
			close(start)
			for range pushes {
				require.NoError(t, <-errs)
			}
			// A PULL peer is detached only after its connection was read to the
			// end: then all 3*m messages wait in the PULL's queues.
			semEventually(t, 10*time.Second, func() bool { return pull.Stats().Peers == 0 },
				"the PULL to see its 3 peers leave (peers now %d)", pull.Stats().Peers)

			var order []int
			next := make([]int, 3)
			for k := 0; k < 3*m; k++ {
				msg := semRecv(t, ctx, pull)
				require.Len(t, msg, 2)
				from := int(msg[0][0])
				require.Equal(t, fmt.Sprint(next[from]), string(msg[1]), "sender %d out of order", from)
				next[from]++
				order = append(order, from)
			}
			for k := 0; k+3 <= len(order); k += 3 {
				trio := order[k : k+3]
				if trio[0] == trio[1] || trio[1] == trio[2] || trio[0] == trio[2] {
					t.Fatalf("messages %d-%d come from senders %v: not fair-queued (first 30: %v)", k, k+2, trio, order[:30])
				}
			}
			assert.Equal(t, []int{m, m, m}, next)
			semNoMsg(t, pull, 20*time.Millisecond)
		})
	}
	// The same with senders that stay connected and are held back by their
	// HWM: over inproc a PUSH's queue is the PULL's queue, so a sender
	// blocked in Send means hwm of its messages wait at the PULL. The first
	// 3*hwm messages then alternate strictly, and as the PULL drains, the
	// blocked senders resume and everything arrives.
	t.Run("inproc-senders-held-at-hwm", func(t *testing.T) {
		const hwm, m = 50, 400
		ctx := semCtx(t, 15*time.Second)
		// Each inproc queue then holds hwm+1: the PUSH's send HWM plus the
		// PULL's receive HWM.
		pull := semNew(t, sockets.Pull, sockets.WithRecvHWM(1))
		addr := semListen(t, pull, "inproc")
		var results []<-chan error
		for i := 0; i < 3; i++ {
			push := semNew(t, sockets.Push, sockets.WithSendHWM(hwm))
			require.NoError(t, push.Dial(addr))
			semWaitEvents(t, push, sockets.EventConnected, 1, 5*time.Second)
			results = append(results, semStartBlocked(t, func() error {
				for j := 0; j < m; j++ {
					if err := push.Send(ctx, []byte{byte(i)}, []byte(fmt.Sprint(j))); err != nil {
						return err
					}
				}
				return nil
			}))
		}
		next := make([]int, 3)
		var order []int
		for k := 0; k < 3*m; k++ {
			msg := semRecv(t, ctx, pull)
			from := int(msg[0][0])
			require.Equal(t, fmt.Sprint(next[from]), string(msg[1]), "sender %d out of order", from)
			next[from]++
			order = append(order, from)
		}
		for k := 0; k+3 <= 3*hwm; k += 3 {
			trio := order[k : k+3]
			if trio[0] == trio[1] || trio[1] == trio[2] || trio[0] == trio[2] {
				t.Fatalf("messages %d-%d come from senders %v: not fair-queued (first 30: %v)", k, k+2, trio, order[:30])
			}
		}
		for _, res := range results {
			require.NoError(t, semResult(t, res, 5*time.Second))
		}
		assert.Equal(t, []int{m, m, m}, next)
	})
}

// Four goroutines send on one PUSH while four receive on one PULL (and the
// same on both ends of a PAIR): the race detector stays quiet and every
// message arrives exactly once.
func TestSemConcurrentUse(t *testing.T) {
	const senders, receivers, per = 4, 4, 1500
	// start runs the senders and receivers; finish (on the test goroutine)
	// waits for them and checks the totals.
	start := func(t *testing.T, ctx context.Context, tx, rx *sockets.Socket, tag byte) (finish func()) {
		var total atomic.Int64
		rctx, stop := context.WithCancel(ctx)
		got := make([]map[uint32]int, receivers)
		var rwg, swg sync.WaitGroup
		for r := 0; r < receivers; r++ {
			got[r] = make(map[uint32]int)
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				for {
					m, err := rx.Recv(rctx)
					if err != nil {
						return
					}
					if len(m) != 1 || len(m[0]) != 5 || m[0][0] != tag {
						t.Errorf("bad message %q", m)
						continue
					}
					got[r][binary.BigEndian.Uint32(m[0][1:])]++
					total.Add(1)
				}
			}()
		}
		for s := 0; s < senders; s++ {
			swg.Add(1)
			go func() {
				defer swg.Done()
				for i := 0; i < per; i++ {
					b := make([]byte, 5)
					b[0] = tag
					binary.BigEndian.PutUint32(b[1:], uint32(s*per+i))
					if err := tx.Send(ctx, b); err != nil {
						t.Errorf("send: %v", err)
						return
					}
				}
			}()
		}
		return func() {
			defer stop()
			swg.Wait()
			semEventually(t, 15*time.Second, func() bool { return total.Load() >= senders*per },
				"%d messages, got %d", senders*per, total.Load())
			semNoMsg(t, rx, 20*time.Millisecond)
			stop()
			rwg.Wait()
			all := make(map[uint32]int)
			for _, g := range got {
				for k, v := range g {
					all[k] += v
				}
			}
			require.Len(t, all, senders*per)
			for k, v := range all {
				if v != 1 {
					t.Fatalf("message %d received %d times", k, v)
				}
			}
		}
	}
	for _, tr := range semTransports {
		t.Run("push-pull/"+tr, func(t *testing.T) {
			ctx := semCtx(t, 20*time.Second)
			pull := semNew(t, sockets.Pull)
			addr := semListen(t, pull, tr)
			push := semNew(t, sockets.Push)
			require.NoError(t, push.Dial(addr))
			start(t, ctx, push, pull, 'p')()
			assert.EqualValues(t, senders*per, push.Stats().MsgsOut)
			assert.EqualValues(t, senders*per, pull.Stats().MsgsIn)
		})
	}
	t.Run("pair-both-ways/tcp", func(t *testing.T) {
		ctx := semCtx(t, 20*time.Second)
		a := semNew(t, sockets.Pair)
		addr := semListen(t, a, "tcp")
		b := semNew(t, sockets.Pair)
		require.NoError(t, b.Dial(addr))
		finishAB := start(t, ctx, a, b, 'a')
		finishBA := start(t, ctx, b, a, 'b')
		finishAB()
		finishBA()
	})
}
