package devices_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func must(t *testing.T, typ sockets.Type, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.New(typ, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func listen(t *testing.T, s *sockets.Socket) string {
	t.Helper()
	addr, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	return addr
}

// run starts p and returns a function that stops it and checks how Run ended.
func run(t *testing.T, ctx context.Context, p *devices.Proxy) func() {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	return func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	}
}

func TestStreamer(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Pull), must(t, sockets.Push)
	fa, ba := listen(t, front), listen(t, back)
	p, err := devices.NewStreamer(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()

	producer := must(t, sockets.Push)
	require.NoError(t, producer.Dial(fa))
	w1, w2 := must(t, sockets.Pull), must(t, sockets.Pull)
	require.NoError(t, w1.Dial(ba))
	require.NoError(t, w2.Dial(ba))
	waitPeers(t, back, 2)
	const n = 200
	for i := 0; i < n; i++ {
		require.NoError(t, producer.Send(ctx, []byte(fmt.Sprint(i))))
	}
	got := 0
	for got < n {
		for _, w := range []*sockets.Socket{w1, w2} {
			if got == n {
				break
			}
			_, err := w.Recv(ctx)
			require.NoError(t, err)
			got++
		}
	}
	// The backend counts a message once its queue has taken it, which can
	// be after the worker already has it.
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Stats().Backend.MsgsOut >= n },
		"the backend counted %d of %d messages", p.Stats().Backend.MsgsOut, n)
	st := p.Stats()
	assert.Equal(t, uint64(n), st.Frontend.MsgsIn)
	assert.Equal(t, uint64(n), st.Backend.MsgsOut)
}

func waitPeers(t *testing.T, s *sockets.Socket, n int64) {
	t.Helper()
	// Connected, not just dialled.
	testutil.Eventually(t, 5*time.Second, func() bool { return int64(len(s.Peers())) >= n }, "peers never connected")
}

func TestQueueLoadBalancesAndRoutesReplies(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Router), must(t, sockets.Dealer)
	fa, ba := listen(t, front), listen(t, back)
	p, err := devices.NewQueue(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()

	var mu sync.Mutex
	served := map[string]int{}
	var wg sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(ctx)
	defer func() { stopWorkers(); wg.Wait() }()
	for w := 0; w < 3; w++ {
		rep := must(t, sockets.Rep)
		require.NoError(t, rep.Dial(ba))
		name := fmt.Sprintf("worker-%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := rep.Recv(wctx)
				if err != nil {
					return
				}
				mu.Lock()
				served[name]++
				mu.Unlock()
				if rep.Send(wctx, []byte(name), m[0]) != nil {
					return
				}
			}
		}()
	}
	waitPeers(t, back, 3)
	clients := make([]*sockets.Socket, 3)
	for i := range clients {
		clients[i] = must(t, sockets.Req)
		require.NoError(t, clients[i].Dial(fa))
	}
	for round := 0; round < 10; round++ {
		for i, c := range clients {
			body := []byte(fmt.Sprintf("c%d-r%d", i, round))
			require.NoError(t, c.Send(ctx, body))
			reply, err := c.Recv(ctx)
			require.NoError(t, err)
			require.Len(t, reply, 2)
			assert.Equal(t, body, reply[1], "each reply comes back to the client that asked")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, served, 3, "every worker got requests")
	for w, n := range served {
		assert.InDelta(t, 10, n, 1, w)
	}
}

func TestForwarderFiltersAtPublisherAndServesLateSubscriber(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.XSub), must(t, sockets.XPub)
	fa, ba := listen(t, front), listen(t, back)
	p, err := devices.NewForwarder(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()

	pub := must(t, sockets.Pub)
	require.NoError(t, pub.Dial(fa))
	sub := must(t, sockets.Sub, sockets.WithSubscribe("weather."))
	require.NoError(t, sub.Dial(ba))
	// The subscription has to travel sub → XPUB → proxy → XSUB → pub.
	waitDelivered(t, ctx, pub, sub, "weather.x")
	// Publisher-side filtering: unsubscribed topics never leave the publisher.
	before := pub.Stats().MsgsOut
	require.NoError(t, pub.Send(ctx, []byte("sports.y"), []byte("no")))
	require.NoError(t, pub.Send(ctx, []byte("weather.z"), []byte("yes")))
	m, err := sub.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "weather.z", string(m[0]))
	assert.Equal(t, before+2, pub.Stats().MsgsOut)
	assert.Less(t, p.Stats().Frontend.MsgsIn, before+2, "sports.y was filtered at the publisher")

	late := must(t, sockets.Sub, sockets.WithSubscribe("sports."))
	require.NoError(t, late.Dial(ba))
	waitDelivered(t, ctx, pub, late, "sports.a")
}

// waitDelivered publishes topic until s receives it (bounded).
func waitDelivered(t *testing.T, ctx context.Context, pub, s *sockets.Socket, topic string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		require.NoError(t, pub.Send(ctx, []byte(topic), []byte("probe")))
		rctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		m, err := s.Recv(rctx)
		cancel()
		if err == nil {
			require.Equal(t, topic, string(m[0]))
			// drain further probes
			for {
				rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				_, err := s.Recv(rctx)
				cancel()
				if err != nil {
					return
				}
			}
		}
	}
	t.Fatalf("%s never delivered", topic)
}

func TestSteeringOverControlSocketAndCapture(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Pull), must(t, sockets.Push)
	fa, ba := listen(t, front), listen(t, back)
	control := must(t, sockets.Rep)
	ca := listen(t, control)
	capture := must(t, sockets.Pull)
	tap := must(t, sockets.Push)
	capAddr := listen(t, capture)
	require.NoError(t, tap.Dial(capAddr))
	p, err := devices.NewStreamer(front, back, devices.WithControl(control), devices.WithCapture(tap, true))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	producer, worker, steer := must(t, sockets.Push), must(t, sockets.Pull), must(t, sockets.Req)
	require.NoError(t, producer.Dial(fa))
	require.NoError(t, worker.Dial(ba))
	require.NoError(t, steer.Dial(ca))
	waitPeers(t, tap, 1)

	command := func(cmd string) [][]byte {
		require.NoError(t, steer.Send(ctx, []byte(cmd)))
		r, err := steer.Recv(ctx)
		require.NoError(t, err)
		return r
	}
	require.NoError(t, producer.Send(ctx, []byte("one")))
	m, err := worker.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "one", string(m[0]))
	c, err := capture.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("in"), []byte("one")}, c)

	assert.Equal(t, [][]byte{{}}, command("PAUSE"))
	require.NoError(t, producer.Send(ctx, []byte("two")))
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = worker.Recv(short)
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded, "nothing moves while paused")
	assert.True(t, p.Stats().Paused)
	assert.Equal(t, [][]byte{{}}, command("RESUME"))
	m, err = worker.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "two", string(m[0]))

	// A socket counts a message once its queue has taken it, which can be
	// after the peer already has it: ask until the counters catch up.
	want := []uint64{2, 6, 0, 0, 0, 0, 2, 6}
	vals := make([]uint64, 8)
	testutil.Eventually(t, 5*time.Second, func() bool {
		stats := command("STATISTICS")
		require.Len(t, stats, 8)
		for i, f := range stats {
			require.Len(t, f, 8)
			vals[i] = binary.LittleEndian.Uint64(f)
		}
		return slices.Equal(vals, want)
	}, "STATISTICS %v, want %v", vals, want)

	assert.Equal(t, [][]byte{{}}, command("TERMINATE"))
	assert.NoError(t, <-done, "TERMINATE ends Run without error")
}

func TestBadPairsAreRefused(t *testing.T) {
	_, err := devices.NewProxy(must(t, sockets.Pub), must(t, sockets.Push))
	assert.ErrorIs(t, err, devices.ErrIncompatible)
	_, err = devices.NewForwarder(must(t, sockets.Sub), must(t, sockets.Pub))
	assert.ErrorIs(t, err, devices.ErrIncompatible)
	_, err = devices.NewStreamer(must(t, sockets.Pull), must(t, sockets.Push), devices.WithControl(must(t, sockets.Push)))
	assert.ErrorIs(t, err, devices.ErrIncompatible)
	_, err = devices.NewStreamer(must(t, sockets.Pull), must(t, sockets.Push), devices.WithCapture(must(t, sockets.Sub), false))
	assert.ErrorIs(t, err, devices.ErrIncompatible)
}

func TestRunEndsWhenASocketCloses(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Pull), must(t, sockets.Push)
	p, err := devices.NewStreamer(front, back)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	require.NoError(t, front.Close())
	err = <-done
	assert.True(t, errors.Is(err, sockets.ErrClosed), "%v", err)
	// Terminated, Run returns nil, even with a socket closed under it.
	// (Terminate comes first: called while Run runs, it may find Run
	// already ending on the closed socket, as it does in 1 run of 10.)
	p.Terminate()
	go func() { done <- p.Run(ctx) }()
	assert.NoError(t, <-done)
}
