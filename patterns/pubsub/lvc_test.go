package pubsub_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pubsub"
	"github.com/zmqkit/zmqkit/sockets"
)

type quote struct {
	Symbol string  `json:"symbol"`
	Price  float64 `json:"price"`
}

// A subscriber that arrives after the values were published gets the latest
// value of each topic it subscribes to at once, from the Publisher's own
// cache: nothing is published after it joins.
func TestPublisherReplaysLatestValueToLateSubscriber(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			pub, err := pubsub.NewPublisher(codec.JSON[quote]())
			require.NoError(t, err)
			closer(t, pub)
			addr, err := pub.Listen(endpoint(t, tr))
			require.NoError(t, err)
			goRun(t, pub)

			// Published before anyone listens: a plain PUB would lose them.
			for i, q := range []quote{{"ACME", 1}, {"ACME", 2}, {"INIT", 7}, {"ACME", 3}, {"ABBA", 9}} {
				st, err := pub.Publish(ctx, q.Symbol, q)
				require.NoError(t, err)
				assert.Equal(t, uint64(i+1), st.Seq)
			}
			pub.Delete(ctx, "ABBA")

			sub, err := pubsub.NewSubscriber(codec.JSON[quote](), pubsub.WithSubscribe("A"))
			require.NoError(t, err)
			closer(t, sub)
			require.NoError(t, sub.Dial(addr))

			u, err := sub.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ACME", u.Topic)
			assert.Equal(t, quote{"ACME", 3}, u.Value, "the latest value, not the first")
			assert.True(t, u.Stamp.Replay)
			assert.Equal(t, uint64(4), u.Stamp.Seq, "a replay keeps its original seq")
			assert.Equal(t, uint64(3), u.Stamp.TopicSeq)
			assert.Equal(t, pub.ID(), u.Stamp.Publisher)

			// Live updates follow, in sequence, with no loss reported.
			_, err = pub.Publish(ctx, "ACME", quote{"ACME", 4})
			require.NoError(t, err)
			_, err = pub.Publish(ctx, "INIT", quote{"INIT", 8}) // not subscribed
			require.NoError(t, err)
			_, err = pub.Publish(ctx, "ABBA", quote{"ABBA", 10})
			require.NoError(t, err)
			u, err = sub.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, quote{"ACME", 4}, u.Value)
			assert.False(t, u.Stamp.Replay)
			u, err = sub.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, quote{"ABBA", 10}, u.Value)
			assert.Equal(t, uint64(3), u.Stamp.TopicSeq, "a deleted topic keeps counting")
			st := sub.Stats()
			assert.Zero(t, st.Lost)
			assert.Equal(t, uint64(1), st.Replays)
			assert.GreaterOrEqual(t, pub.Stats().Replayed, uint64(1))
		})
	}
}

// The replay for a newcomer reaches the subscribers already there too; one
// that tracks the topic drops it as a duplicate.
func TestReplayForNewcomerIsDroppedAsDuplicate(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	pub, err := pubsub.NewPublisher(codec.String())
	require.NoError(t, err)
	closer(t, pub)
	addr, err := pub.Listen(endpoint(t, "inproc"))
	require.NoError(t, err)
	goRun(t, pub)
	_, err = pub.Publish(ctx, "k", "v1")
	require.NoError(t, err)

	first, err := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe("k"))
	require.NoError(t, err)
	closer(t, first)
	require.NoError(t, first.Dial(addr))
	u, err := first.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "v1", u.Value)

	second, err := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe("k"))
	require.NoError(t, err)
	closer(t, second)
	require.NoError(t, second.Dial(addr))
	u, err = second.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "v1", u.Value)
	require.True(t, u.Stamp.Replay)

	_, err = pub.Publish(ctx, "k", "v2")
	require.NoError(t, err)
	u, err = first.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "v2", u.Value, "the second replay of v1 was dropped")
	assert.Equal(t, uint64(1), first.Stats().Duplicates)
}

// A Cache in front of an ordinary PUB socket gives a late subscriber the
// latest message of each topic it asks for.
func TestCacheInFrontOfPlainPublisher(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			pub, err := sockets.NewPubOf(codec.String())
			require.NoError(t, err)
			closer(t, pub)
			pubAddr, err := pub.Listen(endpoint(t, tr))
			require.NoError(t, err)

			cache, err := pubsub.NewCache()
			require.NoError(t, err)
			closer(t, cache)
			require.NoError(t, cache.DialUpstream(pubAddr))
			cacheAddr, err := cache.Listen(endpoint(t, tr))
			require.NoError(t, err)
			goRun(t, cache)

			// A PUB drops what nobody subscribed to yet: publish until the
			// cache's subscription is in effect and it holds both topics.
			eventually(t, 5*time.Second, func() bool {
				require.NoError(t, pub.Publish(ctx, "weather.nyc", "rain"))
				require.NoError(t, pub.Publish(ctx, "weather.sfo", "fog"))
				return cache.Len() == 2
			}, "cache never filled")
			require.NoError(t, pub.Publish(ctx, "weather.nyc", "sun"))
			eventually(t, 5*time.Second, func() bool {
				m, ok := cache.Get("weather.nyc")
				return ok && len(m) == 2 && string(m[1]) == "sun"
			}, "the cache never saw the latest value")

			sub, err := sockets.NewSubOf(codec.String(), sockets.WithSubscribe("weather.nyc"))
			require.NoError(t, err)
			closer(t, sub)
			require.NoError(t, sub.Dial(cacheAddr))
			got, err := sub.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, sockets.Published[string]{Topic: "weather.nyc", Value: "sun"}, got)
			assert.Equal(t, 2, cache.Stats().Topics)
		})
	}
}

// Through a Cache, a Publisher's stamped messages keep their stamps, resent
// ones are marked as replays, and a deleted topic is forgotten.
func TestCacheWithStampedPublisher(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	pub, err := pubsub.NewPublisher(codec.String(), pubsub.WithReplay(false))
	require.NoError(t, err)
	closer(t, pub)
	cache, err := pubsub.NewCache()
	require.NoError(t, err)
	closer(t, cache)
	up, err := cache.ListenUpstream(endpoint(t, "tcp"))
	require.NoError(t, err)
	down, err := cache.Listen(endpoint(t, "tcp"))
	require.NoError(t, err)
	require.NoError(t, pub.Dial(up))
	goRun(t, cache)
	goRun(t, pub)

	eventually(t, 5*time.Second, func() bool {
		_, err := pub.Publish(ctx, "a", "1")
		require.NoError(t, err)
		return cache.Len() == 1
	}, "cache never filled")
	_, err = pub.Publish(ctx, "b", "2")
	require.NoError(t, err)
	_, err = pub.Publish(ctx, "c", "3")
	require.NoError(t, err)
	_, err = pub.Delete(ctx, "b")
	require.NoError(t, err)
	eventually(t, 5*time.Second, func() bool {
		_, hasB := cache.Get("b")
		_, hasC := cache.Get("c")
		return hasC && !hasB
	}, "the deletion never reached the cache")

	sub, err := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe(""))
	require.NoError(t, err)
	closer(t, sub)
	require.NoError(t, sub.Dial(down))
	var got []string
	for len(got) < 2 {
		u, err := sub.Recv(ctx)
		require.NoError(t, err)
		assert.True(t, u.Stamp.Replay)
		assert.Equal(t, pub.ID(), u.Stamp.Publisher)
		got = append(got, u.Topic+"="+u.Value)
	}
	assert.Equal(t, []string{"a=1", "c=3"}, got, "oldest first, b deleted")
	assert.Equal(t, 2, cache.Len())
}
