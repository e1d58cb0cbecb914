package pirate_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil/relay"
	"github.com/zmqkit/zmqkit/patterns/pirate"
	"github.com/zmqkit/zmqkit/sockets"
)

// With every worker ready, sequential requests go round the workers in
// least-recently-used order, and every one is answered.
func TestLRURotation(t *testing.T) {
	b := startBroker(t, "", "")
	for _, n := range []string{"a", "b", "c"} {
		startWorker(t, b.back, named(n))
		eventually(t, 5*time.Second, func() bool { return b.Stats().Ready == int(n[0]-'a'+1) }, "worker %s ready", n)
	}
	c := newClient(t, b.front, pirate.WithRetry(5*time.Second, 1))
	var got []string
	for _, r := range reqs(9) {
		rep, err := c.Request(testCtx(t, 5*time.Second), []byte(r))
		require.NoError(t, err)
		require.Len(t, rep, 1)
		got = append(got, strings.SplitN(string(rep[0]), ":", 2)[0])
		assert.True(t, strings.HasSuffix(string(rep[0]), ":"+r), "reply %q to %q", rep[0], r)
	}
	assert.Equal(t, strings.Split("a,b,c,a,b,c,a,b,c", ","), got)
	st := b.Stats()
	assert.EqualValues(t, 9, st.Requests)
	assert.EqualValues(t, 9, st.Replies)
	assert.Zero(t, st.Requeued)
}

// Many concurrent clients over few workers: every request is answered
// exactly once, with its own reply.
func TestConcurrentClients(t *testing.T) {
	b := startBroker(t, "", "")
	for i := range 3 {
		startWorker(t, b.back, named(fmt.Sprint(i)))
	}
	const clients, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		c := newClient(t, b.front, pirate.WithRetry(10*time.Second, 1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				want := fmt.Sprintf("c%d-%d", i, j)
				rep, err := c.Request(testCtx(t, 10*time.Second), []byte(want))
				if err != nil {
					errs <- err
					return
				}
				if len(rep) != 1 || !strings.HasSuffix(string(rep[0]), ":"+want) {
					errs <- fmt.Errorf("reply %q to %q", rep, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.EqualValues(t, clients*each, b.Stats().Replies)
}

// A request that arrives while no worker is there waits in the broker.
func TestQueuedUntilWorkerArrives(t *testing.T) {
	b := startBroker(t, "", "")
	c := newClient(t, b.front, pirate.WithRetry(5*time.Second, 1))
	got := make(chan error, 1)
	go func() {
		rep, err := c.Request(testCtx(t, 5*time.Second), []byte("early"))
		if err == nil && string(rep[0]) != "late:early" {
			err = fmt.Errorf("reply %q", rep)
		}
		got <- err
	}()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Queued == 1 }, "request queued")
	startWorker(t, b.back, named("late"))
	require.NoError(t, <-got)
}

// The wire between broker and worker is PPP: READY is one frame 0x01, the
// broker heartbeats with one frame 0x02, a request is the client envelope,
// an empty frame and the body, and the reply goes back the same way.
func TestWireFormatRawWorker(t *testing.T) {
	b := startBroker(t, "", "")
	w := newRawWorker(t, b.back, "raw")
	w.send([]byte{0x01})
	defer w.beat()()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Ready == 1 }, "raw worker ready")

	req, err := sockets.NewReq(sockets.WithLinger(0))
	require.NoError(t, err)
	defer req.Close()
	require.NoError(t, req.Dial(b.front))
	ctx := testCtx(t, 5*time.Second)
	require.NoError(t, req.Send(ctx, []byte("part1"), []byte("part2")))

	m, _, err := w.recvRequest(ctx)
	require.NoError(t, err)
	require.Len(t, m, 4, "client id, empty, two body frames: %q", m)
	assert.NotEmpty(t, m[0], "client routing id")
	assert.Empty(t, m[1], "envelope delimiter")
	assert.Equal(t, "part1", string(m[2]))
	assert.Equal(t, "part2", string(m[3]))

	// The broker heartbeats a busy worker too: wait for one.
	_, beats, err := w.recvRequest(testCtx(t, hb+hb/2))
	require.Error(t, err)
	assert.GreaterOrEqual(t, beats, 1, "heartbeats while busy")

	w.send(m[0], m[1], []byte("answer"))
	rep, err := req.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("answer")}, rep)
}

// A worker killed mid-request (its socket closed): the broker notices,
// requeues the request and another worker answers it, within the client's
// single attempt.
func TestKilledWorkerRequestRedelivered(t *testing.T) {
	b := startBroker(t, "", "")
	victim := newRawWorker(t, b.back, "victim")
	victim.send([]byte{0x01})
	stopBeat := victim.beat()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Ready == 1 }, "victim ready")
	startWorker(t, b.back, named("survivor"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Ready == 2 }, "survivor ready")

	c := newClient(t, b.front, pirate.WithRetry(detect+time.Second, 1))
	got := make(chan string, 1)
	fail := make(chan error, 1)
	go func() {
		rep, err := c.Request(testCtx(t, 10*time.Second), []byte("job"))
		if err != nil {
			fail <- err
			return
		}
		got <- string(rep[0])
	}()
	// Least recently used: the victim, ready first, gets the request.
	m, _, err := victim.recvRequest(testCtx(t, 5*time.Second))
	require.NoError(t, err)
	require.Equal(t, "job", string(m[len(m)-1]))
	stopBeat()
	start := time.Now()
	victim.s.Close()

	select {
	case r := <-got:
		assert.Equal(t, "survivor:job", r)
		t.Logf("answered by another worker %v after the kill (window %v, limit %v)", time.Since(start).Round(time.Millisecond), window, detect)
		assert.Less(t, time.Since(start), detect, "redelivered within the liveness window")
	case err := <-fail:
		t.Fatalf("request failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no reply")
	}
	st := b.Stats()
	assert.EqualValues(t, 1, st.Requeued)
	assert.EqualValues(t, 1, st.Lost+st.Expired, "victim dropped")
	assert.Equal(t, 1, st.Workers)
}

// A worker whose socket stays open but that stops heartbeating (and never
// answers) is dropped within the liveness window; its request goes to
// another worker; its late reply is then dropped, and cannot be taken for
// the answer to the client's next request.
func TestSilentWorkerDroppedAndLateReplyDiscarded(t *testing.T) {
	b := startBroker(t, "", "")
	mute := newRawWorker(t, b.back, "mute")
	mute.send([]byte{0x01})
	stopBeat := mute.beat()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Ready == 1 }, "mute ready")
	startWorker(t, b.back, named("good"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Ready == 2 }, "good ready")

	c := newClient(t, b.front, pirate.WithRetry(5*time.Second, 1))
	got := make(chan string, 1)
	go func() {
		rep, err := c.Request(testCtx(t, 5*time.Second), []byte("one"))
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(rep[0])
	}()
	m, _, err := mute.recvRequest(testCtx(t, 5*time.Second))
	require.NoError(t, err)
	stopBeat()
	silentSince := time.Now() // its last heartbeat went before this
	eventually(t, detect, func() bool { return b.Stats().Expired == 1 }, "silent worker expired")
	t.Logf("detected after %v (window %v, limit %v)", time.Since(silentSince).Round(time.Millisecond), window, detect)
	assert.Less(t, time.Since(silentSince), detect)
	assert.Equal(t, "good:one", <-got)

	// The silent worker wakes up and answers the old request: dropped.
	mute.send(m[0], m[1], []byte("stale"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().LateReplies == 1 }, "late reply dropped")
	rep, err := c.Request(testCtx(t, 5*time.Second), []byte("two"))
	require.NoError(t, err)
	assert.Equal(t, "good:two", string(rep[0]))
	assert.EqualValues(t, 2, b.Stats().Replies)
}

// A TCP path that stops forwarding (both sockets open): the broker drops
// the worker within the liveness window, the worker gives up on the broker
// and reconnects; when the path heals it registers again and serves.
func TestFrozenPathWorkerDroppedAndBack(t *testing.T) {
	b := startBroker(t, "", "")
	r := relay.Start(t, b.back)
	w := startWorker(t, r.Endpoint(), named("far"))
	eventually(t, 5*time.Second, func() bool { return b.Stats().Ready == 1 }, "worker ready through relay")
	c := newClient(t, b.front, pirate.WithRetry(5*time.Second, 1))
	rep, err := c.Request(testCtx(t, 5*time.Second), []byte("before"))
	require.NoError(t, err)
	assert.Equal(t, "far:before", string(rep[0]))

	r.Pause()
	frozen := time.Now()
	eventually(t, detect, func() bool { return b.Stats().Workers == 0 }, "worker dropped behind frozen relay")
	t.Logf("detected after %v (window %v, limit %v)", time.Since(frozen).Round(time.Millisecond), window, detect)
	assert.Less(t, time.Since(frozen), detect)
	assert.EqualValues(t, 1, b.Stats().Expired)
	eventually(t, detect, func() bool { return w.Stats().Reconnects >= 1 }, "worker gave up on the broker")

	r.Resume()
	eventually(t, 5*time.Second, func() bool { return b.Stats().Ready == 1 }, "worker back after thaw")
	rep, err = c.Request(testCtx(t, 5*time.Second), []byte("after"))
	require.NoError(t, err)
	assert.Equal(t, "far:after", string(rep[0]))
}

// The broker goes away and comes back on the same endpoints: workers
// notice, reconnect with a back-off that doubles up to its cap, register
// with the new broker, and clients are served again.
func TestBrokerRestartWorkersReconnect(t *testing.T) {
	b := startBroker(t, "", "")
	logs := &logRecorder{}
	startWorker(t, b.back, named("w1"), pirate.WithReconnect(20*time.Millisecond, 80*time.Millisecond),
		pirate.WithLogger(slog.New(logs)))
	w2 := startWorker(t, b.back, named("w2"))
	eventually(t, 5*time.Second, func() bool { return b.Stats().Ready == 2 }, "two workers")
	c := newClient(t, b.front, pirate.WithRetry(time.Second, 10))
	_, err := c.Request(testCtx(t, 5*time.Second), []byte("x"))
	require.NoError(t, err)

	const msg = "pirate: broker silent, reconnecting"
	before := len(logs.Durations(msg, "after"))
	require.ErrorIs(t, b.Stop(t), context.Canceled)
	// Gone for four reconnects of w1: 20, 40, 80, 80 ms.
	eventually(t, 10*time.Second, func() bool { return len(logs.Durations(msg, "after")) >= before+4 }, "w1 retried")
	assert.Equal(t, []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond},
		logs.Durations(msg, "after")[before:before+4])

	b2 := startBroker(t, b.front, b.back)
	eventually(t, 5*time.Second, func() bool { return b2.Stats().Ready == 2 }, "workers registered with the new broker")
	assert.GreaterOrEqual(t, w2.Stats().Reconnects, uint64(1))
	seen := map[string]bool{}
	// Least recently used alternates between live workers; a stale entry
	// for a connection that a worker just replaced costs one more turn.
	for i := 0; i < 20 && len(seen) < 2; i++ {
		rep, err := c.Request(testCtx(t, 10*time.Second), []byte(fmt.Sprint(i)))
		require.NoError(t, err)
		seen[strings.SplitN(string(rep[0]), ":", 2)[0]] = true
	}
	assert.Equal(t, map[string]bool{"w1": true, "w2": true}, seen)
}

// A handler error makes the worker announce READY again; the broker gives
// the request to another worker. A request every worker fails is dropped
// after its deliveries and the client gets ErrNoReply within its deadline.
func TestHandlerErrorRequeuedThenDropped(t *testing.T) {
	b := startBroker(t, "", "", pirate.WithMaxDeliveries(2))
	picky := func(name string) pirate.Handler {
		return func(_ context.Context, req [][]byte) ([][]byte, error) {
			if string(req[0]) == "poison" || (name == "a" && string(req[0]) == "b-only") {
				return nil, errFail
			}
			return [][]byte{[]byte(name)}, nil
		}
	}
	wa := startWorker(t, b.back, picky("a"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Ready == 1 }, "a ready")
	startWorker(t, b.back, picky("b"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Ready == 2 }, "b ready")

	c := newClient(t, b.front, pirate.WithRetry(2*time.Second, 1))
	rep, err := c.Request(testCtx(t, 5*time.Second), []byte("b-only"))
	require.NoError(t, err)
	assert.Equal(t, "b", string(rep[0]))
	assert.EqualValues(t, 1, wa.Stats().Failures)
	assert.EqualValues(t, 1, b.Stats().Requeued)

	c2 := newClient(t, b.front, pirate.WithRetry(300*time.Millisecond, 2))
	start := time.Now()
	_, err = c2.Request(testCtx(t, 5*time.Second), []byte("poison"))
	require.ErrorIs(t, err, pirate.ErrNoReply)
	assert.Less(t, time.Since(start), 2*time.Second)
	eventually(t, 2*time.Second, func() bool { return b.Stats().Dropped == 2 }, "poison dropped on each attempt")
}

// With no broker at all, the client reports ErrNoReply after its attempts,
// or the context's error when that ends first; Close interrupts a request.
func TestClientErrors(t *testing.T) {
	c := newClient(t, "tcp://127.0.0.1:1", pirate.WithRetry(50*time.Millisecond, 3))
	start := time.Now()
	_, err := c.Request(testCtx(t, 5*time.Second), []byte("?"))
	require.ErrorIs(t, err, pirate.ErrNoReply)
	assert.Contains(t, err.Error(), "after 3 tries")
	assert.Less(t, time.Since(start), 2*time.Second)

	c2 := newClient(t, "tcp://127.0.0.1:1", pirate.WithRetry(10*time.Second, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c2.Request(ctx, []byte("?"))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	errc := make(chan error, 1)
	go func() {
		_, err := c2.Request(context.Background(), []byte("?"))
		errc <- err
	}()
	// Whether Close finds the request waiting or not yet started, it ends
	// with ErrClosed.
	require.NoError(t, c2.Close())
	select {
	case err := <-errc:
		require.ErrorIs(t, err, sockets.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the request")
	}
	_, err = c2.Request(context.Background(), []byte("?"))
	require.ErrorIs(t, err, sockets.ErrClosed)
}

// A full queue stops the broker reading its frontend; requests past the TTL
// are dropped.
func TestQueueBoundAndTTL(t *testing.T) {
	b := startBroker(t, "", "", pirate.WithMaxQueue(1), pirate.WithRequestTTL(2*hb))
	var wg sync.WaitGroup
	for i := range 3 {
		c := newClient(t, b.front, pirate.WithRetry(time.Second, 1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Request(testCtx(t, 5*time.Second), []byte(fmt.Sprint(i)))
			assert.ErrorIs(t, err, pirate.ErrNoReply)
		}()
	}
	eventually(t, 2*time.Second, func() bool { return b.Stats().Requests >= 1 }, "one request read")
	assert.LessOrEqual(t, b.Stats().Queued, 1)
	eventually(t, 3*time.Second, func() bool { return b.Stats().Dropped >= 1 }, "queued request expired")
	wg.Wait()
	st := b.Stats()
	assert.Equal(t, st.Requests, st.Dropped+uint64(st.Queued))
}

func TestRunTwiceAndBadOptions(t *testing.T) {
	b, err := pirate.NewBroker()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, b.Run(ctx), context.Canceled)
	assert.ErrorIs(t, b.Run(context.Background()), pirate.ErrBrokerStarted)
	_, err = b.BindFrontend("tcp://127.0.0.1:0")
	assert.ErrorIs(t, err, sockets.ErrClosed, "Run closed the broker")
	_, err = pirate.NewBroker(pirate.WithHeartbeat(0, 3))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	_, err = pirate.NewWorker("tcp://127.0.0.1:1", nil)
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	w, err := pirate.NewWorker("bogus://x", named("x"))
	require.NoError(t, err)
	assert.ErrorIs(t, w.Run(context.Background()), sockets.ErrBadEndpoint)
	_, err = pirate.NewClient("bogus://x")
	assert.ErrorIs(t, err, sockets.ErrBadEndpoint)
}
