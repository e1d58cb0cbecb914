package sockets_test

// RFC 28 (REQ/REP): the strict send/receive alternation, envelopes that
// survive a ROUTER/DEALER relay with empty frames in the payload, and REQ
// load-balancing over its peers.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// semEcho runs a REP that answers every request with prefix followed by
// the request's frames, until ctx ends. The returned func stops it.
func semEcho(t *testing.T, ctx context.Context, rep *sockets.Socket, prefix ...string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := rep.Recv(ctx)
			if err != nil {
				return
			}
			if err := rep.Send(ctx, append(semF(prefix...), m...)...); err != nil {
				t.Errorf("rep send: %v", err)
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

func TestSemReqRepStateMachine(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			rep := semNew(t, sockets.Rep)
			addr := semListen(t, rep, tr)
			req := semNew(t, sockets.Req)

			// Nothing sent yet: REQ cannot receive, REP cannot reply.
			_, err := req.Recv(ctx)
			require.ErrorIs(t, err, sockets.ErrState, "REQ Recv before Send")
			require.ErrorIs(t, rep.Send(ctx, []byte("x")), sockets.ErrState, "REP Send before Recv")

			require.NoError(t, req.Dial(addr))
			require.NoError(t, req.Send(ctx, []byte("q1")))
			require.ErrorIs(t, req.Send(ctx, []byte("q2")), sockets.ErrState, "REQ Send twice")

			m := semRecv(t, ctx, rep)
			assert.Equal(t, []string{"q1"}, semS(m), "only the first request was sent")
			_, err = rep.Recv(ctx)
			require.ErrorIs(t, err, sockets.ErrState, "REP Recv twice")
			require.NoError(t, rep.Send(ctx, []byte("a1")))
			require.ErrorIs(t, rep.Send(ctx, []byte("a1bis")), sockets.ErrState, "REP Send twice")

			assert.Equal(t, []string{"a1"}, semS(semRecv(t, ctx, req)))
			_, err = req.Recv(ctx)
			require.ErrorIs(t, err, sockets.ErrState, "REQ Recv twice")

			// The refused calls did not disturb the state: another round works.
			require.NoError(t, req.Send(ctx, []byte("q3")))
			assert.Equal(t, []string{"q3"}, semS(semRecv(t, ctx, rep)))
			require.NoError(t, rep.Send(ctx, []byte("a3")))
			assert.Equal(t, []string{"a3"}, semS(semRecv(t, ctx, req)))
			semNoMsg(t, rep, 20*time.Millisecond)
		})
	}
}

// REQ -> ROUTER [relay] DEALER -> REP. The ROUTER sees the REQ's envelope
// (its routing id, then the empty delimiter); the REP application sees
// exactly the payload, empty frames included; the reply comes back along
// the envelope to the REQ that asked, with its empty frames too.
func TestSemReqRepEnvelopeThroughRelay(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			router := semNew(t, sockets.Router)
			front := semListen(t, router, tr)
			dealer := semNew(t, sockets.Dealer)
			back := semListen(t, dealer, tr)
			rep := semNew(t, sockets.Rep)
			require.NoError(t, rep.Dial(back))
			reqA := semNew(t, sockets.Req, sockets.WithRoutingID([]byte("A")))
			reqB := semNew(t, sockets.Req)
			require.NoError(t, reqA.Dial(front))
			require.NoError(t, reqB.Dial(front))

			var mu sync.Mutex
			var atRouter [][]string
			rctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				for {
					m, err := router.Recv(rctx)
					if err != nil {
						return
					}
					mu.Lock()
					atRouter = append(atRouter, semS(m))
					mu.Unlock()
					if dealer.Send(rctx, m...) != nil {
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				for {
					m, err := dealer.Recv(rctx)
					if err != nil {
						return
					}
					if router.Send(rctx, m...) != nil {
						return
					}
				}
			}()
			defer func() { stop(); wg.Wait() }()

			payloads := [][]string{
				{"hello"},
				{"hello", "", "world", ""},
				{"", "leading empty"},
				{""},
				{"a", "", "", "b"},
			}
			for _, p := range payloads {
				require.NoError(t, reqA.Send(ctx, semF(p...)...))
				got := semRecv(t, ctx, rep)
				assert.Equal(t, p, semS(got), "REP sees the payload as sent")
				reply := append([]string{"re", ""}, p...)
				require.NoError(t, rep.Send(ctx, semF(reply...)...))
				assert.Equal(t, reply, semS(semRecv(t, ctx, reqA)), "REQ gets the reply as sent")
			}
			mu.Lock()
			for i, m := range atRouter {
				assert.Equal(t, append([]string{"A", ""}, payloads[i]...), m, "ROUTER sees id, delimiter, payload")
			}
			mu.Unlock()

			// Two requesters at once: each reply goes back to its sender.
			stopEcho := semEcho(t, ctx, rep, "echo")
			defer stopEcho()
			for i := 0; i < 5; i++ {
				require.NoError(t, reqA.Send(ctx, []byte("from A"), []byte("")))
				require.NoError(t, reqB.Send(ctx, []byte("from B")))
				assert.Equal(t, []string{"echo", "from B"}, semS(semRecv(t, ctx, reqB)))
				assert.Equal(t, []string{"echo", "from A", ""}, semS(semRecv(t, ctx, reqA)))
			}
		})
	}
}

// A REQ connected to two REPs sends its requests to them in turn.
func TestSemReqRoundRobin(t *testing.T) {
	for _, tr := range semTransports {
		t.Run(tr, func(t *testing.T) {
			ctx := semCtx(t, 10*time.Second)
			req := semNew(t, sockets.Req)
			for _, name := range []string{"one", "two"} {
				rep := semNew(t, sockets.Rep)
				require.NoError(t, req.Dial(semListen(t, rep, tr)))
				defer semEcho(t, ctx, rep, name)()
			}
			semWaitEvents(t, req, sockets.EventConnected, 2, 5*time.Second)
			var order []string
			counts := map[string]int{}
			for i := 0; i < 10; i++ {
				require.NoError(t, req.Send(ctx, []byte("q")))
				m := semRecv(t, ctx, req)
				require.Equal(t, "q", string(m[1]))
				order = append(order, string(m[0]))
				counts[string(m[0])]++
			}
			assert.Equal(t, map[string]int{"one": 5, "two": 5}, counts)
			for i := 1; i < len(order); i++ {
				assert.NotEqual(t, order[i-1], order[i], "requests %d and %d went to the same REP: %v", i-1, i, order)
			}
		})
	}
}
