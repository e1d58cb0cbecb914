package pubsub_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pubsub"
	"github.com/zmqkit/zmqkit/sockets"
)

// obs (issue 14): a live update carries Publish's context headers to a
// subscriber made sockets.WithHeaders; one without gets an error matching
// ErrUnexpectedHeaders (and codec.ErrDecode, so All goes on).
func TestUpdateCarriesHeaders(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	hdrs := sockets.Headers{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	with := pubsub.WithSocketOptions(sockets.WithHeaders(true))
	pub, err := pubsub.NewPublisher(codec.String(), with)
	require.NoError(t, err)
	closer(t, pub)
	addr, err := pub.Listen(endpoint(t, "inproc"))
	require.NoError(t, err)
	goRun(t, pub)
	sub, err := pubsub.NewSubscriber(codec.String(), with, pubsub.WithSubscribe(""))
	require.NoError(t, err)
	closer(t, sub)
	plain, err := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe(""))
	require.NoError(t, err)
	closer(t, plain)
	require.NoError(t, sub.Dial(addr))
	require.NoError(t, plain.Dial(addr))
	var subOK, plainOK bool
	try := func(s *pubsub.Subscriber[string]) bool {
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := s.Recv(c)
		return err == nil
	}
	eventually(t, 10*time.Second, func() bool {
		_, _ = pub.Publish(ctx, "warm", "w")
		subOK = subOK || try(sub)
		plainOK = plainOK || try(plain)
		return subOK && plainOK
	}, "both subscribed")
	next := func(s *pubsub.Subscriber[string]) (pubsub.Update[string], error) {
		for {
			u, err := s.Recv(ctx)
			if err == nil && u.Topic == "warm" {
				continue
			}
			return u, err
		}
	}

	_, err = pub.Publish(sockets.ContextWithHeaders(ctx, hdrs), "t", "v")
	require.NoError(t, err)
	u, err := next(sub)
	require.NoError(t, err)
	assert.Equal(t, "v", u.Value)
	assert.Equal(t, hdrs, u.Headers)
	_, err = next(plain)
	assert.ErrorIs(t, err, sockets.ErrUnexpectedHeaders)
	assert.ErrorIs(t, err, codec.ErrDecode)

	_, err = pub.Publish(ctx, "t", "w")
	require.NoError(t, err)
	u, err = next(sub)
	require.NoError(t, err)
	assert.Equal(t, "w", u.Value)
	assert.Nil(t, u.Headers)
	u, err = next(plain)
	require.NoError(t, err)
	assert.Equal(t, "w", u.Value)
}

// A message a subscriber refuses for its header frame was still received:
// the next one is not reported as a loss of it. (Without replays the
// subscriber's first message is a live one, which starts its count.)
func TestRefusedHeadersAreNotLost(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	pub, err := pubsub.NewPublisher(codec.String(), pubsub.WithReplay(false),
		pubsub.WithSocketOptions(sockets.WithHeaders(true)))
	require.NoError(t, err)
	closer(t, pub)
	addr, err := pub.Listen(endpoint(t, "inproc"))
	require.NoError(t, err)
	goRun(t, pub)
	plain, err := pubsub.NewSubscriber(codec.String(), pubsub.WithSubscribe(""))
	require.NoError(t, err)
	closer(t, plain)
	require.NoError(t, plain.Dial(addr))
	eventually(t, 10*time.Second, func() bool {
		_, _ = pub.Publish(ctx, "warm", "w")
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := plain.Recv(c)
		return err == nil
	}, "subscribed")
	hdrs := sockets.Headers{"k": "v"}
	for i := range 3 {
		_, err = pub.Publish(sockets.ContextWithHeaders(ctx, hdrs), "t", "refused")
		require.NoError(t, err)
		_, err = pub.Publish(ctx, "t", "plain")
		require.NoError(t, err)
		for {
			u, err := plain.Recv(ctx)
			if err == nil && u.Topic == "warm" {
				continue // sent before the first one it read
			}
			assert.ErrorIs(t, err, sockets.ErrUnexpectedHeaders, "round %d", i)
			break
		}
		u, err := plain.Recv(ctx)
		require.NoError(t, err, "round %d", i)
		assert.Equal(t, "plain", u.Value)
	}
	assert.Zero(t, plain.Stats().Lost)
}
