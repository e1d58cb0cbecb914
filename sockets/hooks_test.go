package sockets_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// recorder is a hook of every kind that records what it sees.
type recorder struct {
	mu          sync.Mutex
	sent, recvd map[uint32]int // message number → times seen
	remotes     map[string]bool
	connects    atomic.Int64
	disconnects atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{sent: map[uint32]int{}, recvd: map[uint32]int{}, remotes: map[string]bool{}}
}

func (r *recorder) OnSend(_ context.Context, m sockets.Msg) {
	r.mu.Lock()
	r.sent[binary.BigEndian.Uint32(m.Head)]++
	r.mu.Unlock()
}

func (r *recorder) OnRecv(_ context.Context, m sockets.Msg, from sockets.Peer) {
	r.mu.Lock()
	r.recvd[binary.BigEndian.Uint32(m.Head)]++
	r.remotes[from.Remote] = true
	r.mu.Unlock()
}

func (r *recorder) OnConnect(sockets.Event)    { r.connects.Add(1) }
func (r *recorder) OnDisconnect(sockets.Event) { r.disconnects.Add(1) }

func (r *recorder) counts() (sent, recvd map[uint32]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sent, recvd = map[uint32]int{}, map[uint32]int{}
	for k, v := range r.sent {
		sent[k] = v
	}
	for k, v := range r.recvd {
		recvd[k] = v
	}
	return sent, recvd
}

func seq(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }

// Hooks see every message exactly once, on both sides, while the
// connection is dropped and re-made every few messages: each drop waits
// for the PUSH to see the disconnect and the reconnect (through its own
// hooks), so no message is in flight on a dying connection, and every one
// of them must arrive.
func TestHooksExactlyOnceAcrossReconnects(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	pr, rr := newRecorder(), newRecorder()
	pull, err := sockets.NewPull(sockets.WithHooks(rr))
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push, err := sockets.NewPush(sockets.WithHooks(pr), sockets.WithReconnect(10*time.Millisecond, 0))
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(addr))

	const n, every = 200, 20
	drops := 0
	for i := 0; i < n; i++ {
		if i > 0 && i%every == 0 {
			before := pr.connects.Load()
			require.Equal(t, 1, pull.DisconnectPeers(func(sockets.Peer) bool { return true }), "drop %d", i)
			drops++
			testutil.Eventually(t, 10*time.Second, func() bool {
				return pr.disconnects.Load() == int64(drops) && pr.connects.Load() == before+1
			}, "push reconnects after drop %d", drops)
		}
		require.NoError(t, push.Send(ctx, seq(i)))
		m, err := pull.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, uint32(i), binary.BigEndian.Uint32(m[0]))
	}
	sent, recvd := pr.counts()
	assert.Len(t, sent, n)
	assert.Len(t, recvd, 0, "the PUSH's recv hook saw nothing")
	_, got := rr.counts()
	assert.Len(t, got, n)
	for i := 0; i < n; i++ {
		assert.Equal(t, 1, sent[uint32(i)], "message %d sent", i)
		assert.Equal(t, 1, got[uint32(i)], "message %d received", i)
	}
	assert.Equal(t, int64(drops+1), pr.connects.Load(), "connects seen by the PUSH's hook")
	assert.Equal(t, int64(drops), pr.disconnects.Load())
	assert.EqualValues(t, push.Stats().Connects, pr.connects.Load(), "hooks and Stats agree")
	testutil.Eventually(t, 5*time.Second, func() bool { return rr.disconnects.Load() == int64(drops) }, "pull's disconnects")
	assert.Equal(t, int64(drops+1), rr.connects.Load())
	rr.mu.Lock()
	assert.NotContains(t, rr.remotes, "", "every message came with its peer")
	rr.mu.Unlock()
}

// Several senders at once, every receive form (Recv, RecvMsg, TryRecv,
// RecvFrom): still once each.
func TestHooksExactlyOnceConcurrent(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "inproc://hooks-concurrent"} {
		t.Run(ep[:3], func(t *testing.T) {
			ctx := testutil.Context(t, 30*time.Second)
			pr, rr := newRecorder(), newRecorder()
			pull, err := sockets.NewPull(sockets.WithHooks(rr))
			require.NoError(t, err)
			defer pull.Close()
			addr, err := pull.Listen(ep)
			require.NoError(t, err)
			push, err := sockets.NewPush(sockets.WithHooks(pr))
			require.NoError(t, err)
			defer push.Close()
			require.NoError(t, push.Dial(addr))
			const senders, each = 4, 250
			var wg sync.WaitGroup
			for g := 0; g < senders; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						k := g*each + i
						var err error
						if k%2 == 0 {
							err = push.Send(ctx, seq(k))
						} else {
							for err = push.TrySendMsg(sockets.Msg{Head: seq(k)}); errors.Is(err, sockets.ErrWouldBlock); err = push.TrySendMsg(sockets.Msg{Head: seq(k)}) {
								time.Sleep(time.Millisecond) // back-off of a polling sender, not synchronisation
							}
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			for k := 0; k < senders*each; k++ {
				switch k % 3 {
				case 0:
					_, err = pull.Recv(ctx)
				case 1:
					_, err = pull.RecvMsg(ctx)
				default:
					_, _, err = pull.RecvFrom(ctx)
				}
				require.NoError(t, err)
			}
			wg.Wait()
			sent, _ := pr.counts()
			_, got := rr.counts()
			require.Len(t, sent, senders*each)
			require.Len(t, got, senders*each)
			for k := 0; k < senders*each; k++ {
				require.Equal(t, 1, sent[uint32(k)], "sent %d", k)
				require.Equal(t, 1, got[uint32(k)], "received %d", k)
			}
			_, err = pull.TryRecv()
			assert.ErrorIs(t, err, sockets.ErrWouldBlock)
			_, got = rr.counts()
			assert.Len(t, got, senders*each, "a TryRecv that got nothing reports nothing")
		})
	}
}

func TestWithHooksRefusesNonHooks(t *testing.T) {
	for _, h := range []sockets.Hook{nil, 42, struct{}{}} {
		_, err := sockets.NewPush(sockets.WithHooks(h))
		assert.ErrorIs(t, err, sockets.ErrBadOption, "%T", h)
	}
}

type countHook struct{ n atomic.Int64 }

func (c *countHook) OnSend(context.Context, sockets.Msg)               { c.n.Add(1) }
func (c *countHook) OnRecv(context.Context, sockets.Msg, sockets.Peer) { c.n.Add(1) }

// BenchmarkHooks is PUSH→PULL over inproc at 128 B, without hooks and
// with a counting send and receive hook on each side: the cost of the
// hooks' call sites (compare allocs/op and ns/op; a figure, not a test).
func BenchmarkHooks(b *testing.B) {
	for _, withHooks := range []bool{false, true} {
		name := "none"
		if withHooks {
			name = "counting"
		}
		b.Run(name, func(b *testing.B) {
			var opts []sockets.Option
			h := &countHook{}
			if withHooks {
				opts = append(opts, sockets.WithHooks(h))
			}
			benchHookedPushPull(b, fmt.Sprintf("inproc://bench-hooks-%s", name), 128, opts)
			if withHooks && h.n.Load() < int64(2*b.N) {
				b.Fatalf("hooks saw %d calls for %d messages", h.n.Load(), b.N)
			}
		})
	}
}

func benchHookedPushPull(b *testing.B, ep string, size int, opts []sockets.Option) {
	ctx := context.Background()
	pull, err := sockets.NewPull(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer pull.Close()
	if _, err := pull.Listen(ep); err != nil {
		b.Fatal(err)
	}
	push, err := sockets.NewPush(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer push.Close()
	if err := push.Dial(ep); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if err := push.SendMsg(ctx, sockets.Msg{Head: payload}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		if _, err := pull.RecvMsg(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
