package devices_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// A subscriber that makes 100,000 distinct subscriptions through a
// forwarder: every one of them reaches the publisher upstream, a legitimate
// subscriber still gets its messages, and the 100,001st is refused by the
// backend's default limit while the connection stays. Counts, not time:
// each subscription costs its length at every hop (the backend's set for
// that subscriber and its count per topic, the frontend's record for
// reconnects), so the test ends in seconds; with a cost in the number of
// subscriptions held, it would not end at all.
func TestForwarderManySubscriptions(t *testing.T) {
	const n = sockets.DefaultMaxSubscriptions
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// The frontend sends subscriptions upstream as fast as they come: with
	// a high-water mark, a flood would lose some at a full queue, as
	// libzmq's XSUB does.
	front, back := must(t, sockets.XSub, sockets.WithSendHWM(0)), must(t, sockets.XPub)
	ba := listen(t, back)
	p, err := devices.NewForwarder(front, back)
	require.NoError(t, err)
	defer run(t, ctx, p)()

	// The publisher sees the topics of all the forwarder's subscribers on
	// one connection: it must allow them all.
	upstream := must(t, sockets.XPub, sockets.WithMaxSubscriptions(0))
	require.NoError(t, front.Dial(listen(t, upstream)))
	legit := must(t, sockets.Sub, sockets.WithSubscribe("news."))
	require.NoError(t, legit.Dial(ba))

	flood := must(t, sockets.Sub, sockets.WithSendHWM(0))
	topic := func(i int) string { return string(binary.BigEndian.AppendUint64([]byte("flood."), uint64(i))) }
	for i := range n {
		require.NoError(t, flood.Subscribe(topic(i)))
	}
	require.NoError(t, flood.Dial(ba))

	seen := map[string]bool{}
	for len(seen) < n+1 {
		m, err := upstream.Recv(ctx)
		require.NoError(t, err, "%d of %d subscriptions arrived upstream", len(seen), n+1)
		require.Len(t, m, 1)
		require.Equal(t, byte(1), m[0][0], "a subscription")
		seen[string(m[0][1:])] = true
	}
	assert.True(t, seen["news."])
	for _, i := range []int{0, n / 2, n - 1} {
		assert.True(t, seen[topic(i)], "subscription %d", i)
	}

	// The legitimate subscriber gets what is published for it.
	waitDelivered(t, ctx, upstream, legit, "news.today")

	// One more is over the backend's limit for that subscriber: refused,
	// counted, not forwarded; the subscriber stays connected.
	require.NoError(t, flood.Subscribe(topic(n)))
	require.NoError(t, legit.Subscribe("news.late"))
	m, err := upstream.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "\x01news.late", string(m[0]), "the refused one never came")
	// The refusal comes on the flood's connection, news.late on another.
	testutil.Eventually(t, 5*time.Second, func() bool { return back.Stats().SubscriptionsOverLimit >= 1 }, "the refusal counted")
	st := back.Stats()
	assert.EqualValues(t, 1, st.SubscriptionsOverLimit)
	assert.Zero(t, st.Disconnects)
	assert.Len(t, back.Peers(), 2)
	waitDelivered(t, ctx, upstream, legit, "news.again")
}
