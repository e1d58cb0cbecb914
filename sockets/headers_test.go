package sockets_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

var trace = sockets.Headers{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "content-type": "text/plain"}

func TestHeadersRoundTrip(t *testing.T) {
	f, err := sockets.EncodeHeaders(trace)
	require.NoError(t, err)
	assert.True(t, sockets.IsHeaderFrame(f))
	// The exact bytes docs/headers.md shows for a smaller example.
	small, err := sockets.EncodeHeaders(sockets.Headers{"k": "v", "a": ""})
	require.NoError(t, err)
	assert.Equal(t, []byte{0xFF, 'Z', 'K', 'H', 1, 0, 2, 1, 'a', 0, 0, 1, 'k', 0, 1, 'v'}, small)
	got, err := sockets.DecodeHeaders(f)
	require.NoError(t, err)
	assert.Equal(t, trace, got)
	none, err := sockets.EncodeHeaders(nil)
	require.NoError(t, err)
	assert.Nil(t, none, "no headers, no frame")
}

// What EncodeHeaders refuses to write.
func TestEncodeHeadersBounds(t *testing.T) {
	many := sockets.Headers{}
	for i := 0; i <= sockets.MaxHeaderKeys; i++ {
		many[fmt.Sprint("k", i)] = "v"
	}
	for name, h := range map[string]sockets.Headers{
		"too many keys": many,
		"too big":       {"k": strings.Repeat("x", sockets.MaxHeaderBytes)},
		"empty key":     {"": "v"},
		"long key":      {strings.Repeat("k", 256): "v"},
		"not utf-8":     {"k": "\xff"},
	} {
		_, err := sockets.EncodeHeaders(h)
		assert.ErrorIs(t, err, sockets.ErrMalformedHeaders, name)
	}
}

// malformedFrames are header frames a peer may send: each gets a clear
// error, never a panic, and no allocation beyond the limits.
func malformedFrames() map[string][]byte {
	good, _ := sockets.EncodeHeaders(sockets.Headers{"key": "value"})
	tenThousand := []byte{0xFF, 'Z', 'K', 'H', 1}
	tenThousand = binary.BigEndian.AppendUint16(tenThousand, 10000)
	for i := 0; i < 10000 && len(tenThousand) < sockets.MaxHeaderBytes-8; i++ {
		tenThousand = append(tenThousand, 1, 'k', 0, 0)
	}
	oversize := append([]byte{0xFF, 'Z', 'K', 'H', 1, 0, 1, 1, 'k'}, binary.BigEndian.AppendUint16(nil, 0xFFFF)...)
	oversize = append(oversize, bytes.Repeat([]byte{'x'}, 0xFFFF)...)
	return map[string][]byte{
		"truncated":         good[:len(good)-2],
		"truncated fixed":   good[:5],
		"value past end":    append([]byte{0xFF, 'Z', 'K', 'H', 1, 0, 1, 1, 'k', 0xFF, 0xFF}, 'v'),
		"trailing bytes":    append(append([]byte{}, good...), 0),
		"version 2":         append([]byte{0xFF, 'Z', 'K', 'H', 2}, good[5:]...),
		"10,000 keys":       tenThousand,
		"oversize":          oversize,
		"empty key":         {0xFF, 'Z', 'K', 'H', 1, 0, 1, 0, 0, 0},
		"duplicate key":     {0xFF, 'Z', 'K', 'H', 1, 0, 2, 1, 'k', 0, 0, 1, 'k', 0, 0},
		"not utf-8":         {0xFF, 'Z', 'K', 'H', 1, 0, 1, 1, 0xC0, 0, 0},
		"65535 keys, 7 B":   {0xFF, 'Z', 'K', 'H', 1, 0xFF, 0xFF},
		"64 keys in 8 B":    {0xFF, 'Z', 'K', 'H', 1, 0, 64, 0},
		"bad magic decoded": {0xFF, 'Z', 'K', 'X', 1, 0, 0},
	}
}

func TestDecodeHeadersMalformed(t *testing.T) {
	for name, f := range malformedFrames() {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(10, func() {
				h, err := sockets.DecodeHeaders(f)
				require.ErrorIs(t, err, sockets.ErrMalformedHeaders)
				require.ErrorIs(t, err, codec.ErrDecode)
				require.Nil(t, h)
			})
			// An error and its text; a frame refused on its count or size
			// costs no map for its keys. (Allocations, not time: a
			// bound, asserted.)
			assert.LessOrEqual(t, allocs, 8.0, "allocations for a malformed frame")
		})
	}
}

func FuzzDecodeHeaders(f *testing.F) {
	for _, fr := range malformedFrames() {
		f.Add(fr)
	}
	good, _ := sockets.EncodeHeaders(trace)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := sockets.DecodeHeaders(b)
		if err != nil {
			if h != nil {
				t.Fatal("headers with an error")
			}
			return
		}
		if len(h) > sockets.MaxHeaderKeys || len(b) > sockets.MaxHeaderBytes {
			t.Fatalf("accepted %d keys in %d bytes", len(h), len(b))
		}
		// What decodes re-encodes to the same bytes, unless the frame
		// had no keys (EncodeHeaders writes no frame for none) or was
		// not in sorted order.
		again, err := sockets.EncodeHeaders(h)
		if err != nil {
			t.Fatalf("decoded headers do not re-encode: %v", err)
		}
		back, err := sockets.DecodeHeaders(again)
		if len(h) > 0 && (err != nil || len(back) != len(h)) {
			t.Fatalf("round trip: %v %v", back, err)
		}
	})
}

func pair[S, R any](t *testing.T, ep string, mkS func(...sockets.Option) (S, error), mkR func(...sockets.Option) (R, error), sOpts, rOpts []sockets.Option) (S, R) {
	t.Helper()
	r, err := mkR(rOpts...)
	require.NoError(t, err)
	s, err := mkS(sOpts...)
	require.NoError(t, err)
	return s, r
}

func withHeaders() []sockets.Option { return []sockets.Option{sockets.WithHeaders(true)} }

// PUSH → PULL: headers from the context and from SendWithHeaders; plain
// Recv drops them; a message without headers still decodes.
func TestTypedHeadersPushPull(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	pull, err := sockets.NewPullOf(codec.String(), withHeaders()...)
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push, err := sockets.NewPushOf(codec.String(), withHeaders()...)
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial(addr))

	require.NoError(t, push.Send(sockets.ContextWithHeaders(ctx, trace), "one"))
	require.NoError(t, push.SendWithHeaders(ctx, "two", sockets.Headers{"k": "v"}))
	require.NoError(t, push.Send(ctx, "three"))
	require.NoError(t, push.Send(sockets.ContextWithHeaders(ctx, trace), "four"))

	v, h, err := pull.RecvWithHeaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "one", v)
	assert.Equal(t, trace, h)
	v, h, err = pull.RecvWithHeaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "two", v)
	assert.Equal(t, sockets.Headers{"k": "v"}, h)
	v, h, err = pull.RecvWithHeaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "three", v)
	assert.Nil(t, h)
	v, err = pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "four", v, "plain Recv drops the headers")
	require.NoError(t, push.Send(sockets.ContextWithHeaders(ctx, trace), "five"))
	v, h, from, err := pull.RecvFromWithHeaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "five", v)
	assert.Equal(t, trace, h)
	assert.NotEmpty(t, from.Remote)
}

// A zmqkit peer without WithHeaders gets ErrUnexpectedHeaders, not a
// mis-decoded value, counted, and goes on with the next message; a
// sender without it cannot send headers.
func TestTypedHeadersRefusedWithoutOption(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	pull, err := sockets.NewPullOf(codec.String())
	require.NoError(t, err)
	defer pull.Close()
	_, err = pull.Listen("inproc://headers-refused")
	require.NoError(t, err)
	push, err := sockets.NewPushOf(codec.String(), withHeaders()...)
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial("inproc://headers-refused"))
	require.NoError(t, push.SendWithHeaders(ctx, "with", trace))
	require.NoError(t, push.Send(ctx, "without"))
	_, err = pull.Recv(ctx)
	require.ErrorIs(t, err, sockets.ErrUnexpectedHeaders)
	assert.ErrorIs(t, err, codec.ErrDecode, "iteration goes on past it")
	assert.EqualValues(t, 1, pull.Stats().DecodeErrors)
	v, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "without", v)

	plain, err := sockets.NewPushOf(codec.String())
	require.NoError(t, err)
	defer plain.Close()
	assert.ErrorIs(t, plain.SendWithHeaders(ctx, "x", trace), sockets.ErrBadOption)
	// Headers in the context of a socket without the option are not its
	// business: nothing is added.
	require.NoError(t, plain.Dial("inproc://headers-refused"))
	require.NoError(t, plain.Send(sockets.ContextWithHeaders(ctx, trace), "ctx"))
	v, err = pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ctx", v)
}

// Malformed header frames from a raw peer: a clear error each, counted
// in HeaderErrors, and the socket goes on.
func TestTypedHeadersMalformedCounted(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	pull, err := sockets.NewPullOf(codec.String(), withHeaders()...)
	require.NoError(t, err)
	defer pull.Close()
	_, err = pull.Listen("inproc://headers-malformed")
	require.NoError(t, err)
	raw, err := sockets.NewPush()
	require.NoError(t, err)
	defer raw.Close()
	require.NoError(t, raw.Dial("inproc://headers-malformed"))
	frames := malformedFrames()
	delete(frames, "bad magic decoded") // not a header frame: two frames of a body
	for _, f := range frames {
		require.NoError(t, raw.Send(ctx, f, []byte("body")))
	}
	require.NoError(t, raw.Send(ctx, []byte("fine")))
	for range frames {
		_, err := pull.Recv(ctx)
		require.ErrorIs(t, err, sockets.ErrMalformedHeaders)
	}
	v, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "fine", v)
	assert.EqualValues(t, len(frames), pull.Stats().HeaderErrors)
	assert.EqualValues(t, len(frames), pull.Stats().DecodeErrors)
}

// A peer that knows nothing of headers (a raw socket here, libzmq alike)
// sees the header frame as one more frame, in front of the value.
func TestTypedHeadersSeenRaw(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	raw, err := sockets.NewPull()
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Listen("inproc://headers-raw")
	require.NoError(t, err)
	push, err := sockets.NewPushOf(codec.String(), withHeaders()...)
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial("inproc://headers-raw"))
	require.NoError(t, push.SendWithHeaders(ctx, "v", sockets.Headers{"k": "v"}))
	got, err := raw.Recv(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, []byte{0xFF, 'Z', 'K', 'H', 1, 0, 1, 1, 'k', 0, 1, 'v'}, got[0])
	assert.Equal(t, "v", string(got[1]))
}

func TestTypedHeadersPubSubRouterDealerReqRep(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	t.Run("pubsub", func(t *testing.T) {
		pub, err := sockets.NewPubOf(codec.String(), withHeaders()...)
		require.NoError(t, err)
		defer pub.Close()
		_, err = pub.Listen("inproc://headers-pub")
		require.NoError(t, err)
		sub, err := sockets.NewSubOf(codec.String(), append(withHeaders(), sockets.WithSubscribe(""))...)
		require.NoError(t, err)
		defer sub.Close()
		plain, err := sockets.NewSubOf(codec.String(), sockets.WithSubscribe(""))
		require.NoError(t, err)
		defer plain.Close()
		require.NoError(t, sub.Dial("inproc://headers-pub"))
		require.NoError(t, plain.Dial("inproc://headers-pub"))
		var subOK, plainOK bool
		testutil.Eventually(t, 5*time.Second, func() bool {
			_ = pub.Publish(ctx, "warmup", "w")
			if _, err := sub.Raw().TryRecv(); err == nil {
				subOK = true
			}
			if _, err := plain.Raw().TryRecv(); err == nil {
				plainOK = true
			}
			return subOK && plainOK
		}, "subscriptions in place")
		for _, topic := range []string{"", "t"} {
			require.NoError(t, pub.PublishWithHeaders(ctx, topic, "v"+topic, trace))
			var got sockets.Published[string]
			var h sockets.Headers
			for {
				got, h, err = sub.RecvWithHeaders(ctx)
				require.NoError(t, err)
				if got.Topic != "warmup" {
					break
				}
			}
			assert.Equal(t, sockets.Published[string]{Topic: topic, Value: "v" + topic}, got)
			assert.Equal(t, trace, h)
			for {
				got, err = plain.Recv(ctx)
				if err == nil && got.Topic == "warmup" {
					continue
				}
				break
			}
			assert.ErrorIs(t, err, sockets.ErrUnexpectedHeaders, "topic %q", topic)
		}
	})
	t.Run("router-dealer", func(t *testing.T) {
		router, err := sockets.NewRouterOf(codec.String(), withHeaders()...)
		require.NoError(t, err)
		defer router.Close()
		_, err = router.Listen("inproc://headers-router")
		require.NoError(t, err)
		dealer, err := sockets.NewDealerOf(codec.String(), withHeaders()...)
		require.NoError(t, err)
		defer dealer.Close()
		require.NoError(t, dealer.Dial("inproc://headers-router"))
		require.NoError(t, dealer.SendWithHeaders(ctx, "hi", trace))
		got, h, err := router.RecvWithHeaders(ctx)
		require.NoError(t, err)
		assert.Equal(t, "hi", got.Value)
		assert.Equal(t, trace, h)
		require.NoError(t, router.SendWithHeaders(ctx, got.ID, "back", sockets.Headers{"k": "v"}))
		v, h, err := dealer.RecvWithHeaders(ctx)
		require.NoError(t, err)
		assert.Equal(t, "back", v)
		assert.Equal(t, sockets.Headers{"k": "v"}, h)
	})
	t.Run("req-rep", func(t *testing.T) {
		rep, err := sockets.NewRepOf(codec.String(), codec.String(), withHeaders()...)
		require.NoError(t, err)
		defer rep.Close()
		_, err = rep.Listen("inproc://headers-rep")
		require.NoError(t, err)
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- rep.Serve(sctx, func(ctx context.Context, q string) (string, error) {
				h, _ := sockets.HeadersFromContext(ctx)
				return q + ":" + h["traceparent"], nil
			})
		}()
		req, err := sockets.NewReqOf(codec.String(), codec.String(), withHeaders()...)
		require.NoError(t, err)
		defer req.Close()
		require.NoError(t, req.Dial("inproc://headers-rep"))
		r, err := req.Call(sockets.ContextWithHeaders(ctx, trace), "q")
		require.NoError(t, err)
		assert.Equal(t, "q:"+trace["traceparent"], r)
		r, err = req.Call(ctx, "none")
		require.NoError(t, err)
		assert.Equal(t, "none:", r)

		// A REP without the option answers a request with headers with an
		// error, not a mis-decoded request.
		plainRep, err := sockets.NewRepOf(codec.String(), codec.String())
		require.NoError(t, err)
		defer plainRep.Close()
		_, err = plainRep.Listen("inproc://headers-rep-plain")
		require.NoError(t, err)
		go func() {
			_ = plainRep.Serve(sctx, func(ctx context.Context, q string) (string, error) { return q, nil })
		}()
		req2, err := sockets.NewReqOf(codec.String(), codec.String(), withHeaders()...)
		require.NoError(t, err)
		defer req2.Close()
		require.NoError(t, req2.Dial("inproc://headers-rep-plain"))
		_, err = req2.Call(sockets.ContextWithHeaders(ctx, trace), "q")
		require.ErrorIs(t, err, sockets.ErrRemote)
		assert.Contains(t, err.Error(), "header frame")
		cancel()
		<-done
	})
}
