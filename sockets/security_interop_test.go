//go:build interop

package sockets_test

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/sockets"
)

// PLAIN against libzmq 4.3: its client presenting credentials to our
// authenticating server, and our client to its server with a ZAP handler.

func hexs(s string) string { return hex.EncodeToString([]byte(s)) }

func hasHandshakeFailure(events []string) bool {
	return slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, "HANDSHAKE_FAILED") })
}

func TestInteropPlainLibzmqClient(t *testing.T) {
	auth := func(user, pass string) bool { return user == "alice" && pass == "s3cret" }
	for _, pass := range []string{"s3cret", "wrong"} {
		t.Run(pass, func(t *testing.T) {
			pull := iopSocket(t, sockets.Pull, sockets.WithPlainServer(auth))
			addr, err := pull.Listen("tcp://127.0.0.1:0")
			require.NoError(t, err)
			spec := iopSpec{
				Type:    "PUSH",
				Connect: []string{addr},
				Opts:    map[string]any{"PLAIN_USERNAME": hexs("alice"), "PLAIN_PASSWORD": hexs(pass), "LINGER": 0},
				Monitor: true,
			}
			if pass == "s3cret" {
				spec.Steps = []iopStep{iopSend(iopMsg("m1"), iopMsg("m2"), iopMsg("m3"))}
				py := iopStartPeer(t, spec)
				for i := 1; i <= 3; i++ {
					got, err := pull.Recv(iopCtx(t))
					require.NoError(t, err)
					assert.Equal(t, fmt.Sprintf("m%d", i), string(got[0]))
				}
				assert.False(t, hasHandshakeFailure(iopMonitorEvents(t, py.finish())))
				return
			}
			spec.Steps = []iopStep{iopSleep(500 * time.Millisecond)}
			py := iopStartPeer(t, spec)
			ev := awaitEvent(t, pull, sockets.EventHandshakeFailed)
			assert.ErrorIs(t, ev.Err, sockets.ErrAuth)
			events := iopMonitorEvents(t, py.finish())
			// libzmq reads our (RFC-correct) ERROR as an unexpected command,
			// so it reports HANDSHAKE_FAILED_PROTOCOL, not _AUTH.
			t.Logf("libzmq client's events: %v", events)
			assert.True(t, hasHandshakeFailure(events), "libzmq's client saw its handshake fail: %v", events)
			assert.Zero(t, pull.Stats().Connects)
		})
	}
}

func TestInteropPlainLibzmqServer(t *testing.T) {
	for _, pass := range []string{"s3cret", "wrong"} {
		t.Run(pass, func(t *testing.T) {
			spec := iopSpec{
				Type:     "PULL",
				Bind:     "tcp://127.0.0.1:*",
				Opts:     map[string]any{"PLAIN_SERVER": 1},
				ZapPlain: map[string]string{"alice": "s3cret"},
				Monitor:  true,
			}
			if pass == "s3cret" {
				spec.Steps = []iopStep{iopRecv(2)}
			} else {
				spec.Steps = []iopStep{iopSleep(500 * time.Millisecond)}
			}
			py := iopStartPeer(t, spec)
			ep := py.endpoint()
			push := iopSocket(t, sockets.Push, sockets.WithPlain("alice", pass), sockets.WithLinger(0),
				sockets.WithReconnect(time.Second, time.Second))
			require.NoError(t, push.Dial(ep))
			if pass == "s3cret" {
				require.NoError(t, push.Send(iopCtx(t), []byte("p1")))
				require.NoError(t, push.Send(iopCtx(t), []byte("p2")))
				assert.Equal(t, iopMsg("p1"), py.nextRecv())
				assert.Equal(t, iopMsg("p2"), py.nextRecv())
				assert.False(t, hasHandshakeFailure(iopMonitorEvents(t, py.finish())))
				return
			}
			ev := awaitEvent(t, push, sockets.EventHandshakeFailed)
			t.Logf("our client's reason: %v", ev.Err)
			assert.ErrorIs(t, ev.Err, sockets.ErrAuth)
			events := iopMonitorEvents(t, py.finish())
			assert.True(t, hasHandshakeFailure(events), "libzmq's server refused us: %v", events)
		})
	}
}

// Admission under NULL against libzmq: its client, refused by address,
// gets ZAP's 400 in place of READY and reports a failed handshake; an
// admitted one delivers.
func TestInteropAdmissionLibzmqNullClient(t *testing.T) {
	for _, admit := range []bool{true, false} {
		t.Run(fmt.Sprintf("admit=%v", admit), func(t *testing.T) {
			list, err := sockets.DenyFrom("127.0.0.0/8")
			if admit {
				list, err = sockets.AllowFrom("127.0.0.0/8")
			}
			require.NoError(t, err)
			var mu sync.Mutex
			var seen []sockets.Peer
			pull := iopSocket(t, sockets.Pull, sockets.WithAdmission(func(p sockets.Peer) error {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, p)
				return list(p)
			}))
			addr, err := pull.Listen("tcp://127.0.0.1:0")
			require.NoError(t, err)
			spec := iopSpec{
				Type:    "PUSH",
				Connect: []string{addr},
				Opts:    map[string]any{"LINGER": 0, "RECONNECT_IVL": 10000},
				Monitor: true,
			}
			if admit {
				spec.Steps = []iopStep{iopSend(iopMsg("m1"))}
				py := iopStartPeer(t, spec)
				got, err := pull.Recv(iopCtx(t))
				require.NoError(t, err)
				assert.Equal(t, "m1", string(got[0]))
				assert.False(t, hasHandshakeFailure(iopMonitorEvents(t, py.finish())))
				mu.Lock()
				defer mu.Unlock()
				require.Len(t, seen, 1)
				assert.Equal(t, sockets.Push, seen[0].Type)
				return
			}
			spec.Steps = []iopStep{iopSleep(500 * time.Millisecond)}
			py := iopStartPeer(t, spec)
			ev := awaitEvent(t, pull, sockets.EventHandshakeFailed)
			assert.ErrorIs(t, ev.Err, sockets.ErrRefused)
			events := iopMonitorEvents(t, py.finish())
			t.Logf("libzmq client's events: %v", events)
			assert.Contains(t, events, "HANDSHAKE_FAILED_AUTH", "libzmq reads our ERROR 400 as ZAP's refusal")
			assert.NotContains(t, events, "HANDSHAKE_SUCCEEDED")
			assert.Zero(t, pull.Stats().Connects)
			assert.Equal(t, uint64(1), pull.Stats().AuthFailures)
		})
	}
}
