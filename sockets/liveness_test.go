package sockets_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// A peer that completes the handshake and then says nothing, PINGs
// unanswered included, is dropped for silence, and code that watches only
// for EventDisconnected hears of it too (as libzmq reports a heartbeat
// timeout with ZMQ_EVENT_DISCONNECTED): one EventHeartbeatTimeout, then
// one EventDisconnected with the same reason, counted once in Disconnects.
func TestHeartbeatTimeoutIsAlsoADisconnect(t *testing.T) {
	pull, pullLog := rbSocket(t, sockets.Pull, sockets.WithHeartbeat(hbIvl, hbTimeout, 0))
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	r := rbDial(t, addr)
	r.handshake("PUSH")
	pullLog.await(t, 0, 5*time.Second, "connected", rbFrom(sockets.EventConnected, r.addr()))

	ev := pullLog.await(t, 0, 5*time.Second, "disconnected", rbFrom(sockets.EventDisconnected, r.addr()))
	assert.ErrorIs(t, ev.Err, sockets.ErrHeartbeatTimeout)
	assert.Equal(t, 1, pullLog.count(rbFrom(sockets.EventHeartbeatTimeout, r.addr())), "events:%s", pullLog)
	assert.Equal(t, 1, pullLog.count(rbFrom(sockets.EventDisconnected, r.addr())), "events:%s", pullLog)
	st := pull.Stats()
	assert.Equal(t, uint64(1), st.HeartbeatTimeouts)
	assert.Equal(t, uint64(1), st.Disconnects, "one connection ended")
	assert.Zero(t, st.Peers)
	r.expectDropped()
}
