package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pubsub"
	"github.com/zmqkit/zmqkit/sockets"
)

// A subscriber that does not keep up with a flood reports every message it
// lost — on the next message, or on the next heartbeat for a loss at the
// end — so that what it received plus what it was told it lost is exactly
// what was published.
func TestSubscriberReportsLossInsteadOfLosingSilently(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := testCtx(t, 20*time.Second)
			pub, err := pubsub.NewPublisher(codec.String(), pubsub.WithReplay(false),
				pubsub.WithHeartbeat(10*time.Millisecond),
				pubsub.WithSocketOptions(sockets.WithSendHWM(16)))
			require.NoError(t, err)
			closer(t, pub)
			addr, err := pub.Listen(endpoint(t, tr))
			require.NoError(t, err)
			goRun(t, pub)

			sub, err := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe(""),
				pubsub.WithSocketOptions(sockets.WithRecvHWM(16)))
			require.NoError(t, err)
			closer(t, sub)
			require.NoError(t, sub.Dial(addr))

			// The first update through starts the count: publish until one
			// is received.
			var first pubsub.Update[string]
			eventually(t, 5*time.Second, func() bool {
				_, err := pub.Publish(ctx, "start", "")
				require.NoError(t, err)
				u, err := sub.Recv(shortCtx(t, 5*time.Millisecond))
				if err != nil {
					return false
				}
				first = u
				return true
			}, "never subscribed")

			// The flood, while the subscriber reads nothing: a slow snail.
			value := strings.Repeat("v", 256)
			const n = 20000
			for i := 0; i < n; i++ {
				_, err := pub.Publish(ctx, fmt.Sprintf("t%d", i%50), value)
				require.NoError(t, err)
			}
			head := pub.Head().Seq

			var received, lost, reports uint64
			seen := first.Stamp.Seq
			for seen < head {
				u, err := sub.Recv(ctx)
				var lag *pubsub.LagError
				if errors.As(err, &lag) {
					require.ErrorIs(t, err, pubsub.ErrLoss)
					assert.Equal(t, seen+1, lag.First, "the gap starts after the last message seen")
					assert.Equal(t, pub.ID(), lag.Publisher)
					lost += lag.Lost
					reports++
					seen = lag.First + lag.Lost - 1
					continue
				}
				require.NoError(t, err)
				if u.Stamp.Replay {
					continue
				}
				require.Equal(t, seen+1, u.Stamp.Seq, "after a report, the next message follows the gap")
				received++
				seen = u.Stamp.Seq
			}
			t.Logf("received %d, lost %d in %d reports; publisher dropped %d", received, lost, reports, pub.Stats().Socket.Dropped)
			assert.Equal(t, head-first.Stamp.Seq, received+lost, "every message is either received or reported lost")
			assert.Positive(t, lost, "the flood overflowed the high-water marks")
			st := sub.Stats()
			assert.Equal(t, lost, st.Lost)
			assert.Equal(t, reports, st.Gaps)
		})
	}
}

// shortCtx ends after d.
func shortCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// With narrower subscriptions the checks are per topic: a loss shows when
// the next message of the same topic arrives, and names the topic.
func TestSubscriberReportsLossPerTopic(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	pub, err := pubsub.NewPublisher(codec.String(), pubsub.WithSocketOptions(sockets.WithSendHWM(4)))
	require.NoError(t, err)
	closer(t, pub)
	addr, err := pub.Listen(endpoint(t, "inproc"))
	require.NoError(t, err)
	goRun(t, pub)
	_, err = pub.Publish(ctx, "a.x", "0")
	require.NoError(t, err)

	sub, err := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe("a."),
		pubsub.WithSocketOptions(sockets.WithRecvHWM(4)))
	require.NoError(t, err)
	closer(t, sub)
	require.NoError(t, sub.Dial(addr))
	u, err := sub.Recv(ctx) // the replay of a.x: tracking starts there
	require.NoError(t, err)
	require.True(t, u.Stamp.Replay)

	for i := 1; i <= 1000; i++ {
		_, err := pub.Publish(ctx, "a.x", fmt.Sprint(i))
		require.NoError(t, err)
		_, err = pub.Publish(ctx, "b.y", "ignored") // not subscribed: no gap
		require.NoError(t, err)
	}
	// Read until the topic's last message of the flood (topic seq 1001)
	// has been received or reported lost. If it was lost, nothing reveals
	// it until the topic's next message: publish one whenever the
	// subscriber runs dry.
	var received, lost uint64
	last := u.Stamp.TopicSeq
	for last < 1001 {
		u, err := sub.Recv(shortCtx(t, 50*time.Millisecond))
		var lag *pubsub.LagError
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			_, err := pub.Publish(ctx, "a.x", "tail")
			require.NoError(t, err)
			continue
		case errors.As(err, &lag):
			assert.Equal(t, "a.x", lag.Topic)
			assert.Equal(t, last+1, lag.First)
			lost += lag.Lost
			last += lag.Lost
			continue
		}
		require.NoError(t, err)
		require.Equal(t, "a.x", u.Topic)
		require.Equal(t, last+1, u.Stamp.TopicSeq)
		received++
		last = u.Stamp.TopicSeq
	}
	assert.Equal(t, last-1, received+lost, "every message of the topic is received or reported lost")
	assert.Positive(t, lost)
	assert.Equal(t, lost, sub.Stats().Lost)
}

// A subscriber reading messages older than the maximum lag reports it
// (once, until it catches up), and the message is still delivered.
func TestSubscriberReportsFallingBehind(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	pub, err := pubsub.NewPublisher(codec.String(), pubsub.WithHeartbeat(0))
	require.NoError(t, err)
	closer(t, pub)
	addr, err := pub.Listen(endpoint(t, "inproc"))
	require.NoError(t, err)
	goRun(t, pub)
	_, err = pub.Publish(ctx, "k", "hello")
	require.NoError(t, err)

	var skew atomic.Int64 // how far the subscriber's clock runs ahead
	sub, err := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe("k"),
		pubsub.WithMaxLag(100*time.Millisecond),
		pubsub.WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }))
	require.NoError(t, err)
	closer(t, sub)
	require.NoError(t, sub.Dial(addr))
	u, err := sub.Recv(ctx)
	require.NoError(t, err, "a replay is old by nature: never reported as lag")
	require.True(t, u.Stamp.Replay)

	publish := func(v string) {
		_, err := pub.Publish(ctx, "k", v)
		require.NoError(t, err)
	}
	expect := func(v string) {
		t.Helper()
		u, err := sub.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, v, u.Value)
	}

	publish("fresh")
	expect("fresh")

	// Messages now look 1 s old on arrival: the first is reported.
	skew.Store(int64(time.Second))
	publish("late1")
	publish("late2")
	_, err = sub.Recv(ctx)
	require.ErrorIs(t, err, pubsub.ErrBehind)
	assert.NotErrorIs(t, err, pubsub.ErrLoss)
	var lag *pubsub.LagError
	require.True(t, errors.As(err, &lag))
	assert.GreaterOrEqual(t, lag.Age, time.Second)
	assert.Equal(t, 100*time.Millisecond, lag.MaxLag)
	assert.Contains(t, err.Error(), "falling behind")
	expect("late1") // the message that revealed it comes next
	expect("late2") // still behind, but already reported

	// Caught up, then behind again: a new report.
	skew.Store(0)
	publish("ok")
	expect("ok")
	skew.Store(int64(time.Second))
	publish("late3")
	_, err = sub.Recv(ctx)
	require.ErrorIs(t, err, pubsub.ErrBehind)
	expect("late3")
	assert.Equal(t, uint64(2), sub.Stats().Behind)
}

// Messages that are not stamped, or do not decode, are errors that do not
// end iteration.
func TestSubscriberBadMessages(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	raw, err := sockets.NewXPub() // an XPUB shows when the subscription is in
	require.NoError(t, err)
	closer(t, raw)
	addr, err := raw.Listen(endpoint(t, "inproc"))
	require.NoError(t, err)
	sub, err := pubsub.NewSubscriber(codec.JSON[int](), pubsub.WithSubscribe("t"))
	require.NoError(t, err)
	closer(t, sub)
	require.NoError(t, sub.Dial(addr))
	for {
		m, err := raw.Recv(ctx)
		require.NoError(t, err)
		if string(m[0]) == "\x01t" {
			break
		}
	}

	good, _ := pubsub.Stamp{Publisher: 1, Seq: 1, TopicSeq: 1, Time: time.Now()}.MarshalBinary()
	good2, _ := pubsub.Stamp{Publisher: 1, Seq: 2, TopicSeq: 2, Time: time.Now()}.MarshalBinary()
	require.NoError(t, raw.Send(ctx, []byte("t"), []byte("no stamp"), []byte("1")))
	require.NoError(t, raw.Send(ctx, []byte("t"), []byte("two frames")))
	require.NoError(t, raw.Send(ctx, []byte("t"), good, []byte("{bad json")))
	require.NoError(t, raw.Send(ctx, []byte("t"), good2, []byte("42")))

	var errs []error
	for u, err := range sub.All(ctx) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		assert.Equal(t, 42, u.Value)
		break
	}
	require.NotEmpty(t, errs)
	for _, err := range errs[:len(errs)-1] {
		assert.ErrorIs(t, err, pubsub.ErrBadStamp)
	}
	assert.ErrorIs(t, errs[len(errs)-1], codec.ErrDecode)
}
