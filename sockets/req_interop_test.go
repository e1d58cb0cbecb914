//go:build interop

package sockets_test

// REQ's relaxed and correlate options against libzmq (ZMQ_REQ_RELAXED,
// ZMQ_REQ_CORRELATE), through the driver of interop_test.go:
//
//	go test -race -count=1 -tags interop -run 'Req' ./sockets/

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// iopReqOpts are our REQ's options in these tests.
func iopReqOpts() []sockets.Option {
	return []sockets.Option{sockets.WithReqRelaxed(true), sockets.WithReqCorrelate(true)}
}

// iopRequestID checks what a libzmq ROUTER received from a correlating
// REQ: routing id, a 4-byte request id, the empty delimiter, then body.
// It returns the request id.
func iopRequestID(t *testing.T, got [][]byte, body [][]byte) uint32 {
	t.Helper()
	require.Len(t, got, 3+len(body), "%q", got)
	require.Len(t, got[1], 4, "request id frame %q", got[1])
	require.Empty(t, got[2], "delimiter")
	assert.Equal(t, iopShow(body), iopShow(got[3:]))
	return binary.BigEndian.Uint32(got[1])
}

func TestInteropReqRelaxedCorrelate(t *testing.T) {
	msgs := iopTestMsgs("req", 6)

	// libzmq's REP returns the envelope, id frame included, unchanged.
	// Request q1 is answered at once but abandoned: only the reply to q2
	// is returned.
	t.Run("go-REQ/libzmq-REP", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			req := iopSocket(t, sockets.Req, iopReqOpts()...)
			p := l.connect(t, req, iopSpec{Type: "REP", Steps: []iopStep{iopEcho(2+len(msgs), []byte("re"))}})
			require.NoError(t, req.Send(ctx, iopMsg("q1")...))
			assert.Equal(t, iopShow(iopMsg("q1")), iopShow(p.nextRecv()))
			require.NoError(t, req.Send(ctx, iopMsg("q2")...))
			assert.Equal(t, iopShow(iopMsg("q2")), iopShow(p.nextRecv()))
			got, err := req.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, iopShow(iopMsg("re", "q2")), iopShow(got))
			assert.EqualValues(t, 1, req.Stats().DroppedReplies, "the reply to q1")
			for _, m := range msgs {
				require.NoError(t, req.Send(ctx, m...))
				assert.Equal(t, iopShow(m), iopShow(p.nextRecv()), "request as libzmq's REP sees it")
				got, err := req.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, iopShow(iopPrepend([]byte("re"), m)), iopShow(got))
			}
			p.finish()
		})
	})

	// A libzmq ROUTER shows the envelope: the 4-byte id, one up per
	// request, then the empty delimiter; its echo returns it.
	t.Run("go-REQ/libzmq-ROUTER", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			req := iopSocket(t, sockets.Req, iopReqOpts()...)
			p := l.connect(t, req, iopSpec{Type: "ROUTER", Steps: []iopStep{iopEcho(2 + len(msgs))}})
			require.NoError(t, req.Send(ctx, iopMsg("q1")...))
			id1 := iopRequestID(t, p.nextRecv(), iopMsg("q1"))
			require.NoError(t, req.Send(ctx, iopMsg("q2")...))
			id2 := iopRequestID(t, p.nextRecv(), iopMsg("q2"))
			assert.Equal(t, id1+1, id2, "request ids go up by one")
			got, err := req.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, iopShow(iopMsg("q2")), iopShow(got), "only the reply to the current request")
			assert.EqualValues(t, 1, req.Stats().DroppedReplies, "the reply to q1")
			last := id2
			for _, m := range msgs {
				require.NoError(t, req.Send(ctx, m...))
				id := iopRequestID(t, p.nextRecv(), m)
				assert.Equal(t, last+1, id)
				last = id
				got, err := req.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, iopShow(m), iopShow(got))
			}
			p.finish()
		})
	})

	// A relaxed, correlating libzmq REQ sends two requests back to back
	// and reads one reply: our REP answers both, echoing the id frame with
	// the envelope, and libzmq keeps only the answer to the second.
	t.Run("libzmq-REQ/go-REP", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			rep := iopSocket(t, sockets.Rep)
			steps := []iopStep{iopSend(iopMsg("qA"), iopMsg("qB")), iopRecv(1)}
			for _, m := range msgs {
				steps = append(steps, iopSend(m), iopRecv(1))
			}
			p := l.connect(t, rep, iopSpec{
				Type:  "REQ",
				Opts:  map[string]any{"REQ_CORRELATE": 1, "REQ_RELAXED": 1},
				Steps: steps,
			})
			for _, body := range []string{"qA", "qB"} {
				got, err := rep.Recv(ctx)
				require.NoError(t, err)
				require.Equal(t, iopShow(iopMsg(body)), iopShow(got), "our REP sees the body only")
				require.NoError(t, rep.Send(ctx, iopPrepend([]byte("re"), got)...))
			}
			assert.Equal(t, iopShow(iopMsg("re", "qB")), iopShow(p.nextRecv()), "libzmq takes the reply to qB only")
			for _, m := range msgs {
				got, err := rep.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, iopShow(m), iopShow(got))
				require.NoError(t, rep.Send(ctx, iopPrepend([]byte("re"), got)...))
				assert.Equal(t, iopShow(iopPrepend([]byte("re"), m)), iopShow(p.nextRecv()), "reply as libzmq's REQ sees it")
			}
			p.finish()
		})
	})

	// Our ROUTER sees what libzmq's correlating REQ puts on the wire: the
	// same layout ours uses.
	t.Run("libzmq-REQ/go-ROUTER", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			router := iopSocket(t, sockets.Router)
			var steps []iopStep
			for _, m := range msgs {
				steps = append(steps, iopSend(m), iopRecv(1))
			}
			p := l.connect(t, router, iopSpec{
				Type:  "REQ",
				Opts:  map[string]any{"REQ_CORRELATE": 1, "REQ_RELAXED": 1},
				Steps: steps,
			})
			for _, m := range msgs {
				got, err := router.Recv(ctx)
				require.NoError(t, err)
				iopRequestID(t, got, m)
				reply := append(append([][]byte{}, got[:3]...), []byte("re"))
				reply = append(reply, m...)
				require.NoError(t, router.Send(ctx, reply...))
				assert.Equal(t, iopShow(iopPrepend([]byte("re"), m)), iopShow(p.nextRecv()))
			}
			p.finish()
		})
	})
}
