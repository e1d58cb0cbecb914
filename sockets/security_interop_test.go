//go:build interop

package sockets_test

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
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
