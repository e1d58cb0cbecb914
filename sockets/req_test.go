package sockets_test

// REQ's options: WithReqRelaxed (send again without waiting for the reply)
// and WithReqCorrelate (a request id that replies must echo), against the
// strict default.

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

func TestReqOptionsOnlyOnReq(t *testing.T) {
	opts := map[string]func(bool) sockets.Option{
		"WithReqRelaxed":   sockets.WithReqRelaxed,
		"WithReqCorrelate": sockets.WithReqCorrelate,
	}
	others := []sockets.Type{sockets.Rep, sockets.Dealer, sockets.Router, sockets.Push, sockets.Pull,
		sockets.Pub, sockets.Sub, sockets.XPub, sockets.XSub, sockets.Pair}
	for name, opt := range opts {
		t.Run(name, func(t *testing.T) {
			for _, on := range []bool{true, false} {
				s, err := sockets.New(sockets.Req, opt(on))
				require.NoError(t, err, "REQ, %v", on)
				require.NoError(t, s.Close())
				for _, typ := range others {
					_, err := sockets.New(typ, opt(on))
					assert.ErrorIs(t, err, sockets.ErrBadOption, "%s, %v", typ, on)
				}
			}
			r, err := sockets.NewReqOf(codec.String(), codec.String(), opt(true))
			require.NoError(t, err, "typed REQ")
			require.NoError(t, r.Close())
		})
	}
}

// Without the options nothing changes: a second Send before the reply
// fails, and the socket still waits for the first reply.
func TestReqStrictSendTwiceIsErrState(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			rep := semNew(t, sockets.Rep)
			req := semNew(t, sockets.Req, sockets.WithReqRelaxed(false), sockets.WithReqCorrelate(false))
			require.NoError(t, req.Dial(semListen(t, rep, tr)))
			require.NoError(t, req.Send(ctx, []byte("q1")))
			require.ErrorIs(t, req.Send(ctx, []byte("q2")), sockets.ErrState)
			assert.Equal(t, []string{"q1"}, semS(semRecv(t, ctx, rep)))
			require.NoError(t, rep.Send(ctx, []byte("a1")))
			assert.Equal(t, []string{"a1"}, semS(semRecv(t, ctx, req)))
			assert.Zero(t, req.Stats().DroppedReplies)
		})
	}
}

// A relaxed REQ whose first peer takes the request and never answers gives
// up on it, sends again, and the next peer's reply comes back.
func TestReqRelaxedSkipsSilentPeer(t *testing.T) {
	for _, correlate := range []bool{false, true} {
		name := "relaxed"
		if correlate {
			name = "relaxed+correlate"
		}
		t.Run(name, func(t *testing.T) {
			for _, tr := range semTransports {
				t.Run(tr, func(t *testing.T) {
					ctx := semCtx(t, 10*time.Second)
					req := semNew(t, sockets.Req, sockets.WithReqRelaxed(true), sockets.WithReqCorrelate(correlate))
					silent := semNew(t, sockets.Rep)
					answering := semNew(t, sockets.Rep)
					// Dial order is the load-balancing order: the silent
					// peer gets the first request.
					require.NoError(t, req.Dial(semListen(t, silent, tr)))
					require.NoError(t, req.Dial(semListen(t, answering, tr)))
					semWaitEvents(t, req, sockets.EventConnected, 2, 5*time.Second)
					defer semEcho(t, ctx, answering, "from answering")()

					require.NoError(t, req.Send(ctx, []byte("q1")))
					assert.Equal(t, []string{"q1"}, semS(semRecv(t, ctx, silent)), "the silent peer got the first request")
					_, err := semTryRecv(req, 100*time.Millisecond)
					require.ErrorIs(t, err, context.DeadlineExceeded)

					require.NoError(t, req.Send(ctx, []byte("q2")), "relaxed: send again while a reply is outstanding")
					assert.Equal(t, []string{"from answering", "q2"}, semS(semRecv(t, ctx, req)))
					_, err = req.Recv(ctx)
					require.ErrorIs(t, err, sockets.ErrState, "one reply per request")
				})
			}
		})
	}
}

// routerRequest reads one request at a ROUTER from a correlating REQ:
// routing id, 4-byte request id, empty delimiter, body.
func routerRequest(t *testing.T, ctx context.Context, router *sockets.Socket, body string) (rid, id []byte) {
	t.Helper()
	m := semRecv(t, ctx, router)
	require.Len(t, m, 4, "%q", m)
	require.Len(t, m[1], 4, "request id frame %q", m[1])
	require.Empty(t, m[2], "delimiter")
	require.Equal(t, body, string(m[3]))
	return m[0], m[1]
}

// A reply to an abandoned request that comes after the new request was
// sent is dropped: only the reply carrying the current id is returned.
func TestReqCorrelateDropsStaleReply(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			router := semNew(t, sockets.Router)
			req := semNew(t, sockets.Req, sockets.WithReqRelaxed(true), sockets.WithReqCorrelate(true))
			require.NoError(t, req.Dial(semListen(t, router, tr)))

			require.NoError(t, req.Send(ctx, []byte("q1")))
			rid, id1 := routerRequest(t, ctx, router, "q1")
			require.NoError(t, req.Send(ctx, []byte("q2")))
			_, id2 := routerRequest(t, ctx, router, "q2")
			assert.Equal(t, binary.BigEndian.Uint32(id1)+1, binary.BigEndian.Uint32(id2), "ids go up by one")

			// All on one connection, so they arrive in this order.
			require.NoError(t, router.Send(ctx, rid, id1, []byte{}, []byte("a1")))          // stale
			require.NoError(t, router.Send(ctx, rid, id2, []byte("x"), []byte("a2-bad")))   // no delimiter
			require.NoError(t, router.Send(ctx, rid, []byte("abc"), []byte{}, []byte("?"))) // not an id
			require.NoError(t, router.Send(ctx, rid, id2, []byte{}, []byte("a2"), []byte{}))
			assert.Equal(t, []string{"a2", ""}, semS(semRecv(t, ctx, req)))
			assert.EqualValues(t, 3, req.Stats().DroppedReplies)
			_, err := req.Recv(ctx)
			require.ErrorIs(t, err, sockets.ErrState)

			// The next round trip works, with the next id.
			require.NoError(t, req.Send(ctx, []byte("q3")))
			_, id3 := routerRequest(t, ctx, router, "q3")
			assert.Equal(t, binary.BigEndian.Uint32(id2)+1, binary.BigEndian.Uint32(id3))
			require.NoError(t, router.Send(ctx, rid, id3, []byte{}, []byte("a3")))
			assert.Equal(t, []string{"a3"}, semS(semRecv(t, ctx, req)))
		})
	}
}

// Correlate without relaxed keeps strict alternation and still checks ids.
func TestReqCorrelateStrict(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	router := semNew(t, sockets.Router)
	req := semNew(t, sockets.Req, sockets.WithReqCorrelate(true))
	require.NoError(t, req.Dial(semListen(t, router, "inproc")))
	require.NoError(t, req.Send(ctx, []byte("q1")))
	require.ErrorIs(t, req.Send(ctx, []byte("q2")), sockets.ErrState)
	rid, id := routerRequest(t, ctx, router, "q1")
	wrong := binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(id)+1)
	require.NoError(t, router.Send(ctx, rid, wrong, []byte{}, []byte("not yours")))
	require.NoError(t, router.Send(ctx, rid, id, []byte{}, []byte("a1")))
	assert.Equal(t, []string{"a1"}, semS(semRecv(t, ctx, req)))
	assert.EqualValues(t, 1, req.Stats().DroppedReplies)
}

// Without correlate a relaxed REQ cannot tell a late reply to the
// abandoned request from the reply to the current one when both come from
// the same peer: it takes the first (libzmq documents the same).
func TestReqRelaxedWithoutCorrelateTakesLateReply(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	router := semNew(t, sockets.Router)
	req := semNew(t, sockets.Req, sockets.WithReqRelaxed(true))
	require.NoError(t, req.Dial(semListen(t, router, "tcp")))
	require.NoError(t, req.Send(ctx, []byte("q1")))
	m1 := semRecv(t, ctx, router)
	require.NoError(t, req.Send(ctx, []byte("q2")))
	m2 := semRecv(t, ctx, router)
	assert.Equal(t, []string{"", "q1"}, semS(m1[1:]), "no request id without correlate")
	assert.Equal(t, []string{"", "q2"}, semS(m2[1:]))
	require.NoError(t, router.Send(ctx, m1[0], []byte{}, []byte("a1")))
	require.NoError(t, router.Send(ctx, m2[0], []byte{}, []byte("a2")))
	assert.Equal(t, []string{"a1"}, semS(semRecv(t, ctx, req)), "the late reply is taken")
}

// A relaxed Send drops the replies already queued: they answer earlier
// requests. Over inproc a ROUTER's Send puts the reply straight into the
// REQ's queue, so the order is certain.
func TestReqRelaxedDropsQueuedReplies(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	router := semNew(t, sockets.Router)
	req := semNew(t, sockets.Req, sockets.WithReqRelaxed(true))
	require.NoError(t, req.Dial(semListen(t, router, "inproc")))
	require.NoError(t, req.Send(ctx, []byte("q1")))
	m1 := semRecv(t, ctx, router)
	require.NoError(t, router.Send(ctx, m1[0], []byte{}, []byte("a1")))
	require.NoError(t, req.Send(ctx, []byte("q2")))
	assert.EqualValues(t, 1, req.Stats().DroppedReplies, "a1 dropped when q2 was sent")
	m2 := semRecv(t, ctx, router)
	assert.Equal(t, "q2", string(m2[2]))
	require.NoError(t, router.Send(ctx, m2[0], []byte{}, []byte("a2")))
	assert.Equal(t, []string{"a2"}, semS(semRecv(t, ctx, req)))
}

// A Recv already waiting when another goroutine sends a newer request
// returns the reply to the newer one.
func TestReqRelaxedWaitingRecvFollowsNewRequest(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	router := semNew(t, sockets.Router)
	req := semNew(t, sockets.Req, sockets.WithReqRelaxed(true), sockets.WithReqCorrelate(true))
	require.NoError(t, req.Dial(semListen(t, router, "inproc")))
	require.NoError(t, req.Send(ctx, []byte("q1")))
	rid, id1 := routerRequest(t, ctx, router, "q1")
	var got [][]byte
	res := semStartBlocked(t, func() error {
		var err error
		got, err = req.Recv(ctx)
		return err
	})
	require.NoError(t, req.Send(ctx, []byte("q2")))
	_, id2 := routerRequest(t, ctx, router, "q2")
	require.NoError(t, router.Send(ctx, rid, id1, []byte{}, []byte("a1")))
	require.NoError(t, router.Send(ctx, rid, id2, []byte{}, []byte("a2")))
	require.NoError(t, semResult(t, res, 5*time.Second))
	assert.Equal(t, []string{"a2"}, semS(got))
}

// While one relaxed Send waits for room, another is refused: two requests
// in flight at once would leave it unclear which one Recv answers.
func TestReqRelaxedConcurrentSendRefused(t *testing.T) {
	ctx := semCtx(t, 10*time.Second)
	req := semNew(t, sockets.Req, sockets.WithReqRelaxed(true), sockets.WithSendHWM(1), sockets.WithLinger(0))
	// Nobody listens there: the Dial pipe holds one message, then is full.
	require.NoError(t, req.Dial(semEndpoint(t, "inproc")))
	require.NoError(t, req.Send(ctx, []byte("q1")))
	sctx, cancel := context.WithCancel(ctx)
	res := semStartBlocked(t, func() error { return req.Send(sctx, []byte("q2")) })
	require.ErrorIs(t, req.Send(ctx, []byte("q3")), sockets.ErrState)
	cancel()
	require.ErrorIs(t, semResult(t, res, 5*time.Second), context.Canceled)
	_, err := req.Recv(ctx)
	require.ErrorIs(t, err, sockets.ErrState, "the failed send left no request outstanding")
}

// Type-specific options are refused on other types, as libzmq refuses such a
// setsockopt.
func TestTypeSpecificOptionsOnlyOnTheirTypes(t *testing.T) {
	for _, tc := range []struct {
		opt   sockets.Option
		takes []sockets.Type
	}{
		{sockets.WithRouterMandatory(true), []sockets.Type{sockets.Router}},
		{sockets.WithRouterHandover(true), []sockets.Type{sockets.Router}},
		{sockets.WithXPubVerbose(true), []sockets.Type{sockets.XPub}},
		{sockets.WithSubscribe("x"), []sockets.Type{sockets.Sub, sockets.XSub}},
	} {
		for _, typ := range []sockets.Type{sockets.Push, sockets.Pull, sockets.Pub, sockets.Sub, sockets.XPub, sockets.XSub,
			sockets.Req, sockets.Rep, sockets.Dealer, sockets.Router, sockets.Pair} {
			s, err := sockets.New(typ, tc.opt)
			if slices.Contains(tc.takes, typ) {
				require.NoError(t, err, "%s", typ)
				require.NoError(t, s.Close())
				continue
			}
			assert.ErrorIs(t, err, sockets.ErrBadOption, "%s", typ)
		}
	}
}
