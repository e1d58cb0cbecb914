package zmqwatermill_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"

	zmqwatermill "github.com/zmqkit/zmqkit/contrib/watermill"
)

var endpointSeq atomic.Uint64

// inproc returns a fresh inproc endpoint.
func inproc(what string) string {
	return fmt.Sprintf("inproc://zmqwatermill-%s-%d", what, endpointSeq.Add(1))
}

func newPub(t *testing.T, mode zmqwatermill.Mode, eps ...zmqwatermill.Endpoint) *zmqwatermill.Publisher {
	t.Helper()
	p, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{Mode: mode, Endpoints: eps}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func newSub(t *testing.T, cfg zmqwatermill.SubscriberConfig) *zmqwatermill.Subscriber {
	t.Helper()
	s, err := zmqwatermill.NewSubscriber(cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// receive takes one message off ch, failing t after a while.
func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		require.True(t, ok, "channel closed")
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10 s")
		return nil
	}
}

// receiveN takes and Acks n messages, returning their payloads.
func receiveN(t *testing.T, ch <-chan *message.Message, n int) []string {
	t.Helper()
	var got []string
	for range n {
		m := receive(t, ch)
		got = append(got, string(m.Payload))
		m.Ack()
	}
	return got
}

func publish(t *testing.T, p *zmqwatermill.Publisher, topic string, payloads ...string) {
	t.Helper()
	for _, s := range payloads {
		require.NoError(t, p.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(s))))
	}
}

// TestJoinThenPublish is the slow-joiner case, 30 times over: a Subscriber
// connects to a Publisher (over inproc, tcp and ipc in turn),
// SubscribeInitialize returns, and the very next Publish reaches it. Without the join (JoinTimeout < 0) the first messages
// may be dropped at the Publisher, which does not have the subscription
// yet; with it, SubscribeInitialize returns only once a welcome has come
// back through the subscription.
func TestJoinThenPublish(t *testing.T) {
	for i := range 30 {
		ep := []string{inproc("join"), "tcp://127.0.0.1:0", "ipc://*"}[i%3]
		pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind(ep))
		sub := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(pub.Addrs()[0])}, RequireJoin: true})
		require.NoError(t, sub.SubscribeInitialize("news"))
		publish(t, pub, "news", "first")
		ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "news")
		require.NoError(t, err)
		assert.Equal(t, []string{"first"}, receiveN(t, ch, 1))
		testutil.Eventually(t, 5*time.Second, func() bool { return pub.Stats().Welcomes >= 1 }, "a welcome counted")
		require.NoError(t, sub.Close())
		require.NoError(t, pub.Close())
	}
}

// TestJoinThroughPlainForwarder: a join request passes a forwarder whose
// XPUB is not verbose (libzmq's default, and devices.NewForwarder's), so
// the second Subscriber of a topic behind it joins too, though the
// forwarder passes only the first subscription to a topic upstream.
func TestJoinThroughPlainForwarder(t *testing.T) {
	front, err := sockets.NewXSub()
	require.NoError(t, err)
	defer front.Close()
	back, err := sockets.NewXPub()
	require.NoError(t, err)
	defer back.Close()
	fe, be := inproc("fwd-front"), inproc("fwd-back")
	_, err = front.Listen(fe)
	require.NoError(t, err)
	_, err = back.Listen(be)
	require.NoError(t, err)
	fwd, err := devices.NewForwarder(front, back, devices.WithDrain(0))
	require.NoError(t, err)
	run := testutil.Go(t, "forwarder", fwd.Run)
	defer run.Stop(t)

	pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Connect(fe))
	cfg := zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(be)}, RequireJoin: true, JoinTimeout: 5 * time.Second}
	s1, s2 := newSub(t, cfg), newSub(t, cfg)
	ctx := testutil.Context(t, 10*time.Second)
	c1, err := s1.Subscribe(ctx, "t")
	require.NoError(t, err)
	c2, err := s2.Subscribe(ctx, "t")
	require.NoError(t, err, "the second subscriber's join must pass the forwarder")
	publish(t, pub, "t", "a", "b")
	assert.Equal(t, []string{"a", "b"}, receiveN(t, c1, 2))
	assert.Equal(t, []string{"a", "b"}, receiveN(t, c2, 2))
	require.NoError(t, s1.Close())
	require.NoError(t, s2.Close())
	require.NoError(t, pub.Close())
}

// TestJoinTimeout: with no Publisher, a join gives up after JoinTimeout:
// an error with RequireJoin, otherwise nil (the subscription stands, and
// a Publisher that comes later delivers).
func TestJoinTimeout(t *testing.T) {
	ep := inproc("late")
	strict := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, RequireJoin: true, JoinTimeout: 50 * time.Millisecond})
	assert.ErrorIs(t, strict.SubscribeInitialize("t"), zmqwatermill.ErrNotJoined)

	lax := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, JoinTimeout: 50 * time.Millisecond})
	ch, err := lax.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind(ep))
	// The subscription reaches the late Publisher when the Subscriber
	// connects; until then its messages go nowhere. Publish until one
	// arrives.
	stop := testutil.Every(t, 20*time.Millisecond, func() { _ = pub.Publish("t", message.NewMessage(watermill.NewUUID(), []byte("late"))) })
	assert.Equal(t, "late", string(receive(t, ch).Payload))
	stop()
}

// TestFanOutEverySubscriber: every Subscriber of a topic gets every
// message, in order.
func TestFanOutEverySubscriber(t *testing.T) {
	ep := inproc("fan")
	pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind(ep))
	ctx := testutil.Context(t, 10*time.Second)
	var chans []<-chan *message.Message
	for range 3 {
		s := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, RequireJoin: true})
		ch, err := s.Subscribe(ctx, "t")
		require.NoError(t, err)
		chans = append(chans, ch)
	}
	want := []string{"1", "2", "3", "4", "5"}
	publish(t, pub, "t", want...)
	for _, ch := range chans {
		assert.Equal(t, want, receiveN(t, ch, len(want)))
	}
}

// TestFanOutExactTopics: a subscription to "orders" gets neither
// "orders.archive" nor "order", and the Publisher does not even send them
// (the topic frame's 0x00 makes the ZMTP prefix match exact): the
// Subscriber's socket receives only its topic's messages.
func TestFanOutExactTopics(t *testing.T) {
	ep := inproc("exact")
	pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind(ep))
	sub := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, RequireJoin: true})
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "orders")
	require.NoError(t, err)
	publish(t, pub, "orders.archive", "no")
	publish(t, pub, "order", "no")
	publish(t, pub, "orders", "yes")
	assert.Equal(t, []string{"yes"}, receiveN(t, ch, 1))
	// Had the Publisher sent the other topics, the Subscriber would have
	// read them and counted them as unknown.
	st := sub.Stats()
	assert.Zero(t, st.Unknown, "a message for another topic reached the socket")
	assert.Zero(t, st.Malformed)
}

// TestFanOutComparesTopics: a foreign publisher (a raw PUB) whose topic
// frame only starts like ours reaches the SUB by prefix; the Subscriber
// compares exactly, drops and counts it.
func TestFanOutComparesTopics(t *testing.T) {
	ep := inproc("foreign")
	raw, err := sockets.NewXPub()
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Listen(ep)
	require.NoError(t, err)
	sub := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, JoinTimeout: -1})
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	ctx := testutil.Context(t, 10*time.Second)
	got, err := raw.Recv(ctx) // the subscription "t\x00"
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("\x01t\x00")}, got)
	// "t\x00x" matches the subscription "t\x00" by prefix only.
	require.NoError(t, raw.Send(ctx, []byte("t\x00x"), []byte{1, 0, 1, 'u', 0}, []byte("no")))
	require.NoError(t, raw.Send(ctx, []byte("t\x00"), []byte{1, 0, 1, 'u', 0}, []byte("yes")))
	m := receive(t, ch)
	assert.Equal(t, "yes", string(m.Payload))
	assert.Equal(t, "u", m.UUID)
	m.Ack()
	assert.Equal(t, uint64(1), sub.Stats().Malformed, "a topic frame with a byte after its 0x00 is malformed")
}

// TestMalformedCounted: messages that are not in the format, or over the
// Limits, are dropped and counted, and the Subscriber goes on.
func TestMalformedCounted(t *testing.T) {
	ep := inproc("bad")
	raw, err := sockets.NewPush()
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Listen(ep)
	require.NoError(t, err)
	logger := watermill.NewCaptureLogger()
	sub, err := zmqwatermill.NewSubscriber(zmqwatermill.SubscriberConfig{
		Mode: zmqwatermill.Competing, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)},
		Limits: zmqwatermill.Limits{MaxMetadata: 2},
	}, logger)
	require.NoError(t, err)
	defer sub.Close()
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	ctx := testutil.Context(t, 10*time.Second)
	bad := [][][]byte{
		{[]byte("just one frame")},
		{[]byte("t\x00"), {9, 0, 0, 0}, nil},                            // version 9
		{[]byte("t\x00"), {1, 0, 200, 1}, nil},                          // uuid past the end
		{[]byte("t\x00"), {1, 0, 1, 'u', 3, 0, 0, 0, 0, 0, 0}, nil},     // 3 entries, limit 2
		{[]byte("t\x00"), {1, 0, 1, 'u', 2, 1, 'k', 0, 1, 'k', 0}, nil}, // key twice
	}
	for _, f := range bad {
		require.NoError(t, raw.Send(ctx, f...))
	}
	require.NoError(t, raw.Send(ctx, []byte("t\x00"), []byte{1, 0, 1, 'u', 1, 1, 'k', 1, 'v'}, []byte("good")))
	m := receive(t, ch)
	assert.Equal(t, "good", string(m.Payload))
	assert.Equal(t, "v", m.Metadata.Get("k"))
	m.Ack()
	assert.Equal(t, uint64(len(bad)), sub.Stats().Malformed)
	// Logged at the 1st, 2nd and 4th: bounded, whatever a peer sends.
	assert.Len(t, logger.Captured()[watermill.ErrorLogLevel], 3)
}

// TestNackRedelivers: a Nacked message comes again with the same UUID,
// metadata and payload (the original ones, whatever the handler did to
// its copy), before the messages behind it; the next comes after Ack.
func TestNackRedelivers(t *testing.T) {
	for _, mode := range []zmqwatermill.Mode{zmqwatermill.FanOut, zmqwatermill.Competing} {
		t.Run(mode.String(), func(t *testing.T) {
			ep := inproc("nack")
			pub := newPub(t, mode, zmqwatermill.Bind(ep))
			sub := newSub(t, zmqwatermill.SubscriberConfig{Mode: mode, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, RequireJoin: true})
			ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
			require.NoError(t, err)
			first := message.NewMessage("uuid-1", []byte("one"))
			first.Metadata.Set("k", "v")
			require.NoError(t, pub.Publish("t", first, message.NewMessage("uuid-2", []byte("two"))))

			m := receive(t, ch)
			assert.Equal(t, "uuid-1", m.UUID)
			m.Payload[0] = 'X'
			m.Metadata.Set("k", "changed")
			select {
			case extra := <-ch:
				t.Fatalf("got %s before the first was Acked or Nacked", extra.UUID)
			case <-time.After(50 * time.Millisecond):
			}
			m.Nack()
			select {
			case <-m.Context().Done():
			case <-time.After(5 * time.Second):
				t.Fatal("a Nacked message's context must end")
			}
			again := receive(t, ch)
			assert.Equal(t, "uuid-1", again.UUID)
			assert.Equal(t, "one", string(again.Payload))
			assert.Equal(t, "v", again.Metadata.Get("k"))
			again.Ack()
			next := receive(t, ch)
			assert.Equal(t, "uuid-2", next.UUID)
			next.Ack()
			st := sub.Stats()
			assert.Equal(t, uint64(1), st.Nacked)
			testutil.Eventually(t, 5*time.Second, func() bool { return sub.Stats().Acked == 2 }, "two Acks counted")
			assert.Equal(t, uint64(3), sub.Stats().Delivered)
		})
	}
}

// TestCompetingEachToOne: with two consumers on one endpoint, every
// message goes to exactly one of them, and both get some.
func TestCompetingEachToOne(t *testing.T) {
	ep := inproc("work")
	pub := newPub(t, zmqwatermill.Competing, zmqwatermill.Bind(ep))
	ctx := testutil.Context(t, 20*time.Second)
	var mu sync.Mutex
	seen := map[string]int{}
	per := [2]int{}
	var wg sync.WaitGroup
	subs := make([]*zmqwatermill.Subscriber, 2)
	chans := make([]<-chan *message.Message, 2)
	for i := range subs {
		subs[i] = newSub(t, zmqwatermill.SubscriberConfig{Mode: zmqwatermill.Competing, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, Backlog: 1})
		ch, err := subs[i].Subscribe(ctx, "jobs")
		require.NoError(t, err)
		chans[i] = ch
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return pub.Stats().Socket.Connects == 2 }, "both consumers connected")
	const n = 200
	var total atomic.Int64
	done := make(chan struct{})
	for i, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case m := <-ch:
					mu.Lock()
					seen[m.UUID]++
					per[i]++
					mu.Unlock()
					m.Ack()
					if total.Add(1) == n {
						close(done)
					}
				case <-done:
					return
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for i := range n {
		require.NoError(t, pub.Publish("jobs", message.NewMessage(fmt.Sprint(i), []byte("x"))))
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("%d of %d messages", total.Load(), n)
	}
	wg.Wait()
	assert.Len(t, seen, n)
	for id, c := range seen {
		assert.Equal(t, 1, c, "message %s", id)
	}
	assert.Positive(t, per[0])
	assert.Positive(t, per[1])
}

// TestCompetingBacklogWaits: a Competing Subscriber whose backlog is full
// stops reading, and the rest waits in the sockets: nothing is lost.
func TestCompetingBacklogWaits(t *testing.T) {
	ep := inproc("wait")
	pub := newPub(t, zmqwatermill.Competing, zmqwatermill.Bind(ep))
	sub := newSub(t, zmqwatermill.SubscriberConfig{Mode: zmqwatermill.Competing, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, Backlog: 5})
	require.NoError(t, sub.SubscribeInitialize("t"))
	var want []string
	for i := range 100 {
		want = append(want, fmt.Sprint(i))
	}
	publish(t, pub, "t", want...)
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	assert.Equal(t, want, receiveN(t, ch, len(want)))
	assert.Zero(t, sub.Stats().Dropped)
}

// TestFanOutBacklogDrops: a FanOut Subscriber whose topic backlog is full
// drops that topic's new messages, counted, as a PUB drops for a slow
// subscriber; what it kept arrives.
func TestFanOutBacklogDrops(t *testing.T) {
	ep := inproc("drop")
	pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind(ep))
	sub := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, Backlog: 5, RequireJoin: true})
	require.NoError(t, sub.SubscribeInitialize("t"))
	publish(t, pub, "t", "0", "1", "2", "3", "4", "5", "6", "7")
	testutil.Eventually(t, 5*time.Second, func() bool { return sub.Stats().Dropped == 3 }, "3 dropped, got %d", sub.Stats().Dropped)
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	assert.Equal(t, []string{"0", "1", "2", "3", "4"}, receiveN(t, ch, 5))
}

// TestFanOutDropsWithoutSubscriber is what keeps FanOut from the suite's
// TestConcurrentClose: a message published while no Subscriber has its
// topic is gone, and a Subscriber that comes later does not get it.
func TestFanOutDropsWithoutSubscriber(t *testing.T) {
	ep := inproc("none")
	pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind(ep))
	publish(t, pub, "t", "before")
	sub := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, RequireJoin: true})
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	publish(t, pub, "t", "after")
	assert.Equal(t, "after", string(receive(t, ch).Payload), "the first message this Subscriber gets is the one published after it joined")
}

// TestCompetingUnknownTopic: a Competing Subscriber that gets a message
// for a topic it was not asked for drops and counts it.
func TestCompetingUnknownTopic(t *testing.T) {
	ep := inproc("unknown")
	pub := newPub(t, zmqwatermill.Competing, zmqwatermill.Bind(ep))
	sub := newSub(t, zmqwatermill.SubscriberConfig{Mode: zmqwatermill.Competing, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}})
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "a")
	require.NoError(t, err)
	publish(t, pub, "b", "lost")
	publish(t, pub, "a", "kept")
	assert.Equal(t, "kept", string(receive(t, ch).Payload))
	assert.Equal(t, uint64(1), sub.Stats().Unknown)
}

// TestCloseReleases: Close closes every subscription's channel before it
// returns and cancels the context of a message not yet Acked; later calls
// fail with the closed errors. goleak (TestMain) checks the goroutines.
func TestCloseReleases(t *testing.T) {
	for _, mode := range []zmqwatermill.Mode{zmqwatermill.FanOut, zmqwatermill.Competing} {
		t.Run(mode.String(), func(t *testing.T) {
			ep := inproc("close")
			pub := newPub(t, mode, zmqwatermill.Bind(ep))
			sub := newSub(t, zmqwatermill.SubscriberConfig{Mode: mode, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, RequireJoin: true})
			ctx := context.Background()
			ch1, err := sub.Subscribe(ctx, "t")
			require.NoError(t, err)
			ch2, err := sub.Subscribe(ctx, "u")
			require.NoError(t, err)
			publish(t, pub, "t", "held")
			m := receive(t, ch1)
			require.NoError(t, sub.Close())
			for _, ch := range []<-chan *message.Message{ch1, ch2} {
				select {
				case _, ok := <-ch:
					assert.False(t, ok)
				default:
					t.Fatal("a channel still open after Close")
				}
			}
			select {
			case <-m.Context().Done():
			default:
				t.Fatal("an un-Acked message's context must end on Close")
			}
			require.NoError(t, sub.Close(), "Close is idempotent")
			_, err = sub.Subscribe(ctx, "t")
			assert.ErrorIs(t, err, zmqwatermill.ErrSubscriberClosed)
			assert.ErrorIs(t, sub.SubscribeInitialize("v"), zmqwatermill.ErrSubscriberClosed)
			require.NoError(t, pub.Close())
			require.NoError(t, pub.Close())
			assert.ErrorIs(t, pub.Publish("t", message.NewMessage("x", nil)), zmqwatermill.ErrPublisherClosed)
		})
	}
}

// TestSubscribeCtxEnds: a subscription whose context ends has its channel
// closed; a message it held and Nacks goes to the next subscription.
func TestSubscribeCtxEnds(t *testing.T) {
	ep := inproc("ctx")
	pub := newPub(t, zmqwatermill.Competing, zmqwatermill.Bind(ep))
	sub := newSub(t, zmqwatermill.SubscriberConfig{Mode: zmqwatermill.Competing, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}})
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := sub.Subscribe(ctx, "t")
	require.NoError(t, err)
	publish(t, pub, "t", "a")
	m := receive(t, ch)
	cancel()
	select {
	case _, ok := <-ch:
		assert.False(t, ok)
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after its context ended")
	}
	m.Nack()
	ch2, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	again := receive(t, ch2)
	assert.Equal(t, m.UUID, again.UUID)
	again.Ack()
}

// TestSecurityOptions: sockets.Options pass through, here CURVE: a
// Subscriber with the server's key gets the messages; one without a key
// never connects.
func TestSecurityOptions(t *testing.T) {
	server, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	client, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	pub, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{
		Endpoints:     []zmqwatermill.Endpoint{zmqwatermill.Bind("tcp://127.0.0.1:0")},
		SocketOptions: []sockets.Option{sockets.WithCurveServer(server, func(k [32]byte) bool { return k == client.Public })},
	}, nil)
	require.NoError(t, err)
	defer pub.Close()
	ep := []zmqwatermill.Endpoint{zmqwatermill.Connect(pub.Addrs()[0])}
	sub := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: ep, RequireJoin: true, SocketOptions: []sockets.Option{sockets.WithCurve(server.Public, client)}})
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	publish(t, pub, "t", "secret")
	assert.Equal(t, "secret", string(receive(t, ch).Payload))

	stranger := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: ep, RequireJoin: true, JoinTimeout: 100 * time.Millisecond})
	assert.ErrorIs(t, stranger.SubscribeInitialize("t"), zmqwatermill.ErrNotJoined)
	assert.Zero(t, stranger.Stats().Socket.Connects)
}

func TestConfigRefused(t *testing.T) {
	_, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{}, nil)
	assert.ErrorIs(t, err, zmqwatermill.ErrNoEndpoint)
	_, err = zmqwatermill.NewSubscriber(zmqwatermill.SubscriberConfig{Mode: 7, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect("inproc://x")}}, nil)
	assert.Error(t, err)
	_, err = zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Bind("nope://x")}}, nil)
	assert.ErrorIs(t, err, sockets.ErrBadEndpoint)
	pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind(inproc("cfg")))
	assert.ErrorIs(t, pub.Publish("a\x00b", message.NewMessage("x", nil)), zmqwatermill.ErrBadTopic)
}

// TestFanOutNoDrop: with NoDrop, and WithPubNoDrop on the Publisher, a
// full backlog holds the Publisher up instead of losing messages.
func TestFanOutNoDrop(t *testing.T) {
	ep := inproc("nodrop")
	pub, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Bind(ep)}, SocketOptions: []sockets.Option{sockets.WithPubNoDrop(true), sockets.WithSendHWM(2)},
	}, nil)
	require.NoError(t, err)
	defer pub.Close()
	sub := newSub(t, zmqwatermill.SubscriberConfig{
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)}, Backlog: 5, RequireJoin: true, NoDrop: true,
		SocketOptions: []sockets.Option{sockets.WithRecvHWM(2)},
	})
	require.NoError(t, sub.SubscribeInitialize("t"))
	var want []string
	for i := range 50 {
		want = append(want, fmt.Sprint(i))
	}
	published := make(chan struct{})
	go func() {
		defer close(published)
		for _, w := range want {
			if err := pub.Publish("t", message.NewMessage(watermill.NewUUID(), []byte(w))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
	require.NoError(t, err)
	assert.Equal(t, want, receiveN(t, ch, len(want)))
	<-published
	assert.Zero(t, sub.Stats().Dropped)
	assert.Zero(t, pub.Stats().Socket.Dropped)
}

// TestCompetingPublishWaits: with no consumer, a Competing Publish waits;
// SendTimeout bounds the wait, and Close ends it.
func TestCompetingPublishWaits(t *testing.T) {
	pub, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{
		Mode: zmqwatermill.Competing, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Bind(inproc("alone"))},
		SendTimeout: 50 * time.Millisecond, SocketOptions: []sockets.Option{sockets.WithImmediate(true)},
	}, nil)
	require.NoError(t, err)
	err = pub.Publish("t", message.NewMessage("x", nil))
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	waiting, err := zmqwatermill.NewPublisher(zmqwatermill.PublisherConfig{
		Mode: zmqwatermill.Competing, Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Bind(inproc("alone"))},
		SocketOptions: []sockets.Option{sockets.WithImmediate(true)},
	}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	m := message.NewMessage("y", nil)
	m.SetContext(ctx)
	errc := make(chan error, 1)
	go func() { errc <- waiting.Publish("t", m) }()
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled, "the message's context ends the wait")
	go func() { errc <- waiting.Publish("t", message.NewMessage("z", nil)) }()
	require.NoError(t, waiting.Close())
	assert.ErrorIs(t, <-errc, zmqwatermill.ErrPublisherClosed)
	require.NoError(t, pub.Close())
}

// TestSubscribeCtxEndsJoin: a join waiting for a Publisher that is not
// there gives up when Subscribe's context ends.
func TestSubscribeCtxEndsJoin(t *testing.T) {
	sub := newSub(t, zmqwatermill.SubscriberConfig{Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(inproc("nobody"))}, JoinTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := sub.Subscribe(ctx, "t")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestJoinEveryPublisher: a Subscriber connected to two Publishers joins
// only once both have welcomed it, so a message each publishes right after
// SubscribeInitialize arrives, 20 times over tcp.
func TestJoinEveryPublisher(t *testing.T) {
	for range 20 {
		a := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind("tcp://127.0.0.1:0"))
		b := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind("tcp://127.0.0.1:0"))
		sub := newSub(t, zmqwatermill.SubscriberConfig{
			Endpoints:   []zmqwatermill.Endpoint{zmqwatermill.Connect(a.Addrs()[0]), zmqwatermill.Connect(b.Addrs()[0])},
			RequireJoin: true,
		})
		testutil.Eventually(t, 5*time.Second, func() bool { return sub.Stats().Socket.Connects == 2 }, "connected to both")
		require.NoError(t, sub.SubscribeInitialize("t"))
		publish(t, a, "t", "a")
		publish(t, b, "t", "b")
		ch, err := sub.Subscribe(testutil.Context(t, 10*time.Second), "t")
		require.NoError(t, err)
		got := receiveN(t, ch, 2)
		assert.ElementsMatch(t, []string{"a", "b"}, got)
		require.NoError(t, sub.Close())
		require.NoError(t, a.Close())
		require.NoError(t, b.Close())
	}
}
