package majordomo_test

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
	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/sockets"
)

// sendAsync runs c.Send in the background and delivers its outcome.
func sendAsync(c *majordomo.Client, ctx context.Context, service, body string) <-chan string {
	out := make(chan string, 1)
	go func() {
		rep, err := c.Send(ctx, service, []byte(body))
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		out <- string(rep[0])
	}()
	return out
}

func within(t *testing.T, ch <-chan string, d time.Duration) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(d):
		t.Fatalf("no outcome within %v", d)
		return ""
	}
}

// A raw worker killed mid-request (socket closed, no DISCONNECT): the
// broker finds it gone, requeues, and another worker answers within the
// client's one attempt.
func TestKilledRawWorkerRequestRedelivered(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]
	victim := newRawWorker(t, ep, "victim")
	victim.ready("job")
	stopBeat := victim.beat()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "victim")
	startWorker(t, ep, "job", echo("survivor"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 2 }, "survivor")

	c := newClient(t, ep, majordomo.WithRetry(detect+time.Second, 1))
	res := sendAsync(c, testCtx(t, 10*time.Second), "job", "x")
	_, body := victim.request(testCtx(t, 5*time.Second)) // least recently used: the victim
	require.Equal(t, frames("x"), body)
	stopBeat()
	killed := time.Now()
	victim.s.Close()

	assert.Equal(t, "survivor:x", within(t, res, 10*time.Second))
	t.Logf("answered by another worker %v after the kill (window %v, limit %v)", time.Since(killed).Round(time.Millisecond), window, detect)
	assert.Less(t, time.Since(killed), detect)
	st := b.Stats()
	assert.EqualValues(t, 1, st.Requeued)
	assert.EqualValues(t, 1, st.Lost+st.Expired)
	assert.Equal(t, 1, st.Workers)
}

// Our Worker stopped mid-request: its handler's context ends, it sends
// DISCONNECT, and the broker hands the request to another worker at once.
func TestStoppedWorkerRequestRedelivered(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]
	started := make(chan struct{}, 1)
	stuck := startWorker(t, ep, "job", func(ctx context.Context, _ [][]byte) ([][]byte, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "stuck")
	startWorker(t, ep, "job", echo("other"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 2 }, "other")

	c := newClient(t, ep, majordomo.WithRetry(5*time.Second, 1))
	res := sendAsync(c, testCtx(t, 10*time.Second), "job", "y")
	<-started
	require.ErrorIs(t, stuck.Stop(t), context.Canceled)
	assert.Equal(t, "other:y", within(t, res, 5*time.Second))
	st := b.Stats()
	assert.EqualValues(t, 1, st.Requeued)
	assert.Zero(t, st.Expired+st.Lost, "DISCONNECT, not a timeout")
}

// A worker whose connection stays open but which stops heartbeating is
// dropped within the liveness window; its request goes to another worker;
// its late reply then earns it a DISCONNECT, not a client.
func TestSilentWorkerDropped(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]
	mute := newRawWorker(t, ep, "mute")
	mute.ready("job")
	stopBeat := mute.beat()
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "mute")
	startWorker(t, ep, "job", echo("good"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 2 }, "good")

	c := newClient(t, ep, majordomo.WithRetry(5*time.Second, 1))
	res := sendAsync(c, testCtx(t, 10*time.Second), "job", "one")
	client, _ := mute.request(testCtx(t, 5*time.Second))
	stopBeat()
	silent := time.Now()
	eventually(t, detect, func() bool { return b.Stats().Expired == 1 }, "silent worker dropped")
	t.Logf("detected after %v (window %v, limit %v)", time.Since(silent).Round(time.Millisecond), window, detect)
	assert.Less(t, time.Since(silent), detect)
	assert.Equal(t, "good:one", within(t, res, 5*time.Second))

	mute.reply(client, []byte("stale"))
	mute.expectDisconnect()
	rep, err := c.Send(testCtx(t, 5*time.Second), "job", []byte("two"))
	require.NoError(t, err)
	assert.Equal(t, frames("good:two"), rep)
	assert.EqualValues(t, 2, b.Stats().Replies)
}

// A TCP path that stops forwarding: the broker drops the worker within the
// liveness window; the worker gives up and reconnects; once the path heals
// it is registered and serving again.
func TestFrozenPath(t *testing.T) {
	b := startBroker(t, nil)
	r := relay.Start(t, b.ep[0])
	w := startWorker(t, r.Endpoint(), "far", echo("far"))
	eventually(t, 5*time.Second, func() bool { return b.Stats().Workers == 1 }, "worker through relay")
	c := newClient(t, b.ep[0], majordomo.WithRetry(5*time.Second, 1))
	rep, err := c.Send(testCtx(t, 5*time.Second), "far", []byte("a"))
	require.NoError(t, err)
	assert.Equal(t, frames("far:a"), rep)

	r.Pause()
	frozen := time.Now()
	eventually(t, detect, func() bool { return b.Stats().Workers == 0 }, "worker dropped")
	t.Logf("detected after %v (window %v, limit %v)", time.Since(frozen).Round(time.Millisecond), window, detect)
	assert.Less(t, time.Since(frozen), detect)
	assert.EqualValues(t, 1, b.Stats().Expired)
	eventually(t, detect, func() bool { return w.Stats().Reconnects >= 1 }, "worker gave up on the broker")

	// Meanwhile a client asking for the service is told it has no worker.
	rep, err = c.Send(testCtx(t, 5*time.Second), majordomo.MMIService, []byte("far"))
	require.NoError(t, err)
	assert.Equal(t, frames("404"), rep)

	r.Resume()
	eventually(t, 5*time.Second, func() bool { return b.Stats().Workers >= 1 }, "worker back")
	rep, err = c.Send(testCtx(t, 5*time.Second), "far", []byte("b"))
	require.NoError(t, err)
	assert.Equal(t, frames("far:b"), rep)
}

// The broker stops and a new one starts on the same endpoints: workers
// notice, reconnect with doubling back-off, and register again; a client
// with retries is served across the gap.
func TestBrokerRestart(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]
	logs := &logRecorder{}
	startWorker(t, ep, "svc", echo("w1"), majordomo.WithReconnect(20*time.Millisecond, 80*time.Millisecond),
		majordomo.WithLogger(slog.New(logs)))
	w2 := startWorker(t, ep, "svc", echo("w2"))
	eventually(t, 5*time.Second, func() bool { return b.Stats().Workers == 2 }, "two workers")
	c := newClient(t, ep, majordomo.WithRetry(time.Second, 10))
	_, err := c.Send(testCtx(t, 5*time.Second), "svc", []byte("x"))
	require.NoError(t, err)

	const msg = "majordomo: lost the broker, reconnecting"
	before := len(logs.Durations(msg, "after"))
	require.ErrorIs(t, b.Stop(t), context.Canceled)
	eventually(t, 10*time.Second, func() bool { return len(logs.Durations(msg, "after")) >= before+4 }, "w1 retried")
	assert.Equal(t, []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond},
		logs.Durations(msg, "after")[before:before+4])

	// A request sent while no broker is there is answered once one is.
	res := sendAsync(c, testCtx(t, 10*time.Second), "svc", "gap")
	b2 := startBroker(t, []string{ep})
	eventually(t, 5*time.Second, func() bool { return b2.Stats().Workers == 2 }, "both workers registered again")
	assert.Regexp(t, `^w[12]:gap$`, within(t, res, 10*time.Second))
	assert.GreaterOrEqual(t, w2.Stats().Reconnects, uint64(1))
	seen := map[string]bool{}
	// Least recently used alternates between live workers; a stale entry
	// for a connection that a worker just replaced costs one more turn.
	for i := 0; i < 20 && len(seen) < 2; i++ {
		rep, err := c.Send(testCtx(t, 5*time.Second), "svc", []byte(fmt.Sprint(i)))
		require.NoError(t, err)
		seen[strings.SplitN(string(rep[0]), ":", 2)[0]] = true
	}
	assert.Equal(t, map[string]bool{"w1": true, "w2": true}, seen)
}

// A Handler error: the worker sends DISCONNECT and registers again; the
// broker gives the request to another worker. A request that every worker
// fails is dropped after its deliveries, and the client gets ErrNoReply
// within its deadline.
func TestHandlerErrors(t *testing.T) {
	b := startBroker(t, nil, majordomo.WithMaxDeliveries(2))
	ep := b.ep[0]
	picky := func(name string) majordomo.Handler {
		return func(_ context.Context, req [][]byte) ([][]byte, error) {
			if string(req[0]) == "poison" || (name == "a" && string(req[0]) == "b-only") {
				return nil, errFail
			}
			return [][]byte{[]byte(name)}, nil
		}
	}
	wa := startWorker(t, ep, "svc", picky("a"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 1 }, "a")
	startWorker(t, ep, "svc", picky("b"))
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 2 }, "b")

	c := newClient(t, ep, majordomo.WithRetry(2*time.Second, 1))
	rep, err := c.Send(testCtx(t, 5*time.Second), "svc", []byte("b-only"))
	require.NoError(t, err)
	assert.Equal(t, frames("b"), rep)
	assert.EqualValues(t, 1, wa.Stats().Failures)
	assert.EqualValues(t, 1, b.Stats().Requeued)
	eventually(t, 2*time.Second, func() bool { return b.Stats().Workers == 2 }, "a registered again")

	c2 := newClient(t, ep, majordomo.WithRetry(300*time.Millisecond, 2))
	start := time.Now()
	_, err = c2.Send(testCtx(t, 5*time.Second), "svc", []byte("poison"))
	require.ErrorIs(t, err, majordomo.ErrNoReply)
	assert.Contains(t, err.Error(), `service "svc"`)
	assert.Less(t, time.Since(start), 2*time.Second)
	eventually(t, 2*time.Second, func() bool { return b.Stats().Dropped >= 1 }, "poison dropped")
}

// Many clients, several services, workers dying under load: every request
// is answered (a retry may be needed) or fails with a clear error within
// its deadline — here all must be answered, since workers remain.
func TestChurnUnderLoad(t *testing.T) {
	b := startBroker(t, nil)
	ep := b.ep[0]
	for _, svc := range []string{"s1", "s2"} {
		for i := range 2 {
			startWorker(t, ep, svc, echo(fmt.Sprintf("%s-%d", svc, i)))
		}
	}
	// Victims: one per service, killed while clients run.
	var victims []*runningWorker
	for _, svc := range []string{"s1", "s2"} {
		victims = append(victims, startWorker(t, ep, svc, echo(svc+"-victim")))
	}
	eventually(t, 5*time.Second, func() bool { return b.Stats().Workers == 6 }, "six workers")

	const clients, each = 6, 30
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	progress := make(chan struct{}, clients*each)
	for i := range clients {
		c := newClient(t, ep, majordomo.WithRetry(2*time.Second, 3))
		svc := []string{"s1", "s2"}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				body := fmt.Sprintf("c%d-%d", i, j)
				rep, err := c.Send(testCtx(t, 10*time.Second), svc, []byte(body))
				if err != nil {
					errs <- err
					return
				}
				if !strings.HasPrefix(string(rep[0]), svc+"-") || !strings.HasSuffix(string(rep[0]), ":"+body) {
					errs <- fmt.Errorf("reply %q to %s %q", rep[0], svc, body)
					return
				}
				progress <- struct{}{}
			}
		}()
	}
	for range clients * each / 3 {
		<-progress
	}
	for _, v := range victims {
		v.Stop(t)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, 4, b.Stats().Workers)
}

// Requests for a service nobody serves expire after the TTL; a full queue
// drops new requests.
func TestRequestTTLAndQueueBound(t *testing.T) {
	b := startBroker(t, nil, majordomo.WithRequestTTL(2*hb), majordomo.WithMaxQueue(1))
	ep := b.ep[0]
	d := newSocket(t, sockets.Dealer, ep)
	ctx := testCtx(t, 5*time.Second)
	require.NoError(t, d.Send(ctx, empty, mdpc, []byte("nobody"), []byte("1")))
	require.NoError(t, d.Send(ctx, empty, mdpc, []byte("nobody"), []byte("2")))
	eventually(t, 2*time.Second, func() bool { st := b.Stats(); return st.Requests == 2 }, "both read")
	st := b.Stats()
	assert.Equal(t, 1, st.Queued)
	assert.EqualValues(t, 1, st.Dropped, "queue full")
	eventually(t, 2*time.Second, func() bool { return b.Stats().Queued == 0 }, "expired")
	st = b.Stats()
	assert.EqualValues(t, 2, st.Dropped)
	assert.Equal(t, 0, st.Services, "an empty service is forgotten")
}

// With no broker, the client reports ErrNoReply after its attempts, or the
// context's error when that ends first; Close ends a waiting Send.
func TestClientErrors(t *testing.T) {
	c := newClient(t, "tcp://127.0.0.1:1", majordomo.WithRetry(50*time.Millisecond, 3))
	start := time.Now()
	_, err := c.Send(testCtx(t, 5*time.Second), "svc")
	require.ErrorIs(t, err, majordomo.ErrNoReply)
	assert.Contains(t, err.Error(), "after 3 tries")
	assert.Less(t, time.Since(start), 2*time.Second)

	c2 := newClient(t, "tcp://127.0.0.1:1", majordomo.WithRetry(10*time.Second, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c2.Send(ctx, "svc")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	errc := make(chan error, 1)
	go func() {
		_, err := c2.Send(context.Background(), "svc")
		errc <- err
	}()
	require.NoError(t, c2.Close())
	select {
	case err := <-errc:
		require.ErrorIs(t, err, sockets.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end Send")
	}
}

func TestRunOnceAndOptions(t *testing.T) {
	b, err := majordomo.NewBroker()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, b.Run(ctx), context.Canceled)
	assert.ErrorIs(t, b.Run(context.Background()), majordomo.ErrBrokerStarted)
	_, err = b.Bind("tcp://127.0.0.1:0")
	assert.ErrorIs(t, err, sockets.ErrClosed)

	b2, err := majordomo.NewBroker()
	require.NoError(t, err)
	ep, err := b2.Bind("tcp://127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- b2.Run(context.Background()) }()
	require.NoError(t, b2.Close())
	assert.ErrorIs(t, <-done, sockets.ErrClosed)
	_ = ep

	for _, o := range []majordomo.BrokerOption{
		majordomo.WithHeartbeat(0, 3), majordomo.WithHeartbeat(time.Second, 0),
		majordomo.WithMaxQueue(-1), majordomo.WithRequestTTL(-1), majordomo.WithMaxDeliveries(0),
	} {
		_, err := majordomo.NewBroker(o)
		assert.ErrorIs(t, err, sockets.ErrBadOption)
	}
	for _, o := range []majordomo.WorkerOption{
		majordomo.WithHeartbeat(0, 3), majordomo.WithReconnect(time.Second, time.Millisecond),
		majordomo.WithIdentity(""),
	} {
		_, err := majordomo.NewWorker("tcp://127.0.0.1:1", "s", echo("x"), o)
		assert.ErrorIs(t, err, sockets.ErrBadOption)
	}
	_, err = majordomo.NewClient("tcp://127.0.0.1:1", majordomo.WithRetry(0, 1))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	_, err = majordomo.NewWorker("tcp://127.0.0.1:1", "", echo("x"))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	_, err = majordomo.NewWorker("tcp://127.0.0.1:1", "s", nil)
	assert.ErrorIs(t, err, sockets.ErrBadOption)
	w, err := majordomo.NewWorker("bogus://x", "s", echo("x"))
	require.NoError(t, err)
	assert.ErrorIs(t, w.Run(context.Background()), sockets.ErrBadEndpoint)
}
