package sockets_test

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/internal/testutil/relay"
	"github.com/zmqkit/zmqkit/sockets"
)

const (
	hbIvl     = 50 * time.Millisecond
	hbTimeout = 100 * time.Millisecond
	hbDetect  = time.Second // a half-open connection must be dropped within this
)

// rbSendRecv sends one message from push and receives it on pull.
func rbSendRecv(t *testing.T, push, pull *sockets.Socket, msg string) {
	t.Helper()
	ctx := rbCtx(t, 5*time.Second)
	require.NoError(t, push.Send(ctx, []byte(msg)))
	m, err := pull.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte(msg)}, m)
}

// The dialer heartbeats; the relay between it and the listener goes silent.
// The dialer drops the connection for silence, and reconnects by itself once
// the relay forwards again; a message sent meanwhile arrives.
func TestHeartbeatHalfOpenDialer(t *testing.T) {
	pull, _ := rbSocket(t, sockets.Pull)
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	rl := relay.Start(t, addr)
	push, pushLog := rbSocket(t, sockets.Push,
		sockets.WithHeartbeat(hbIvl, hbTimeout, 0),
		sockets.WithReconnect(20*time.Millisecond, 200*time.Millisecond),
		sockets.WithHandshakeTimeout(300*time.Millisecond))
	require.NoError(t, push.Dial(rl.Endpoint()))
	pushLog.await(t, 0, 5*time.Second, "connected", rbKind(sockets.EventConnected))
	rbSendRecv(t, push, pull, "before")

	mark := pushLog.mark()
	start := time.Now()
	rl.Pause()
	ev := pushLog.await(t, mark, 5*time.Second, "heartbeat-timeout", rbKind(sockets.EventHeartbeatTimeout))
	took := ev.at.Sub(start)
	t.Logf("half-open connection dropped after %v", took)
	assert.Less(t, took, hbDetect)
	assert.GreaterOrEqual(t, took, hbIvl, "dropped before any heartbeat could be missed")
	assert.ErrorIs(t, ev.Err, sockets.ErrHeartbeatTimeout)
	assert.Equal(t, uint64(1), push.Stats().HeartbeatTimeouts)

	// Sent while there is no connection: waits in the pipe.
	ctx := rbCtx(t, 5*time.Second)
	require.NoError(t, push.Send(ctx, []byte("during")))

	mark = pushLog.mark()
	rl.Resume()
	pushLog.await(t, mark, 5*time.Second, "reconnected", rbKind(sockets.EventConnected))
	m, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("during")}, m)
	rbSendRecv(t, push, pull, "after")
}

// The listener heartbeats: it drops the silent connection; when the relay
// forwards again the dialer learns its connection is gone and reconnects.
func TestHeartbeatHalfOpenListener(t *testing.T) {
	pull, pullLog := rbSocket(t, sockets.Pull, sockets.WithHeartbeat(hbIvl, hbTimeout, 0))
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	rl := relay.Start(t, addr)
	push, pushLog := rbSocket(t, sockets.Push, sockets.WithReconnect(20*time.Millisecond, 200*time.Millisecond))
	require.NoError(t, push.Dial(rl.Endpoint()))
	pushLog.await(t, 0, 5*time.Second, "connected", rbKind(sockets.EventConnected))
	rbSendRecv(t, push, pull, "before")

	mark := pullLog.mark()
	start := time.Now()
	rl.Pause()
	ev := pullLog.await(t, mark, 5*time.Second, "heartbeat-timeout", rbKind(sockets.EventHeartbeatTimeout))
	t.Logf("half-open connection dropped after %v", ev.at.Sub(start))
	assert.Less(t, ev.at.Sub(start), hbDetect)
	assert.ErrorIs(t, ev.Err, sockets.ErrHeartbeatTimeout)
	assert.Equal(t, uint64(1), pull.Stats().HeartbeatTimeouts)
	assert.Equal(t, int64(0), pull.Stats().Peers)

	mark = pushLog.mark()
	rl.Resume()
	pushLog.await(t, mark, 5*time.Second, "reconnected", rbKind(sockets.EventConnected))
	rbSendRecv(t, push, pull, "after")
}

// The dialer asks, with the TTL in its PINGs, to be dropped after 300 ms of
// silence; the listener has no heartbeat of its own and still drops it.
func TestHeartbeatTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	pull, pullLog := rbSocket(t, sockets.Pull)
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	rl := relay.Start(t, addr)
	push, pushLog := rbSocket(t, sockets.Push, sockets.WithHeartbeat(hbIvl, hbTimeout, ttl))
	require.NoError(t, push.Dial(rl.Endpoint()))
	pushLog.await(t, 0, 5*time.Second, "connected", rbKind(sockets.EventConnected))
	rbSendRecv(t, push, pull, "before")
	// The TTL travels in the PINGs: let two of them through.
	up0 := rl.Up()
	for deadline := time.Now().Add(5 * time.Second); rl.Up()-up0 < 2*9; {
		require.True(t, time.Now().Before(deadline), "no PING from the dialer")
		time.Sleep(5 * time.Millisecond) // poll interval
	}

	mark := pullLog.mark()
	start := time.Now()
	rl.Pause()
	ev := pullLog.await(t, mark, 5*time.Second, "heartbeat-timeout", rbKind(sockets.EventHeartbeatTimeout))
	took := ev.at.Sub(start)
	t.Logf("listener dropped the silent peer after %v (TTL %v)", took, ttl)
	assert.GreaterOrEqual(t, took, ttl*3/4)
	assert.Less(t, took, ttl+hbDetect)
	assert.ErrorIs(t, ev.Err, sockets.ErrHeartbeatTimeout)
	rl.Resume()
}

// Heartbeats on an idle, healthy connection flow both ways and never time
// it out.
func TestHeartbeatIdleHealthy(t *testing.T) {
	// A timeout no scheduler stall under a loaded -race run reaches: this
	// test is about heartbeats flowing, not about how soon silence counts.
	const hbTimeout = 10 * time.Second
	pull, pullLog := rbSocket(t, sockets.Pull, sockets.WithHeartbeat(hbIvl, hbTimeout, 0))
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	rl := relay.Start(t, addr)
	push, pushLog := rbSocket(t, sockets.Push, sockets.WithHeartbeat(hbIvl, hbTimeout, 0))
	require.NoError(t, push.Dial(rl.Endpoint()))
	pushLog.await(t, 0, 5*time.Second, "connected", rbKind(sockets.EventConnected))
	rbSendRecv(t, push, pull, "before")

	up0, down0 := rl.Up(), rl.Down()
	// Silence from the application until three heartbeats went each way
	// (waiting for them, not for an amount of time).
	const ping = 9 // flags, size, name length, "PING", 2-byte TTL
	testutil.Eventually(t, 10*time.Second, func() bool { return rl.Up()-up0 >= 3*ping && rl.Down()-down0 >= 3*ping },
		"heartbeats: %d bytes up, %d bytes down", rl.Up()-up0, rl.Down()-down0)
	pushLog.none(t, 0, 0, "connection end (dialer)", rbEnded)
	pullLog.none(t, 0, 0, "connection end (listener)", rbEnded)
	assert.Zero(t, push.Stats().HeartbeatTimeouts)
	assert.Zero(t, pull.Stats().HeartbeatTimeouts)
	assert.Equal(t, 1, pushLog.count(rbKind(sockets.EventConnected)))
	rbSendRecv(t, push, pull, "after")
}

// A peer that stops reading, then stops sending too: the heartbeating PUB
// drops it for silence even though its writer is stuck in Write behind full
// TCP buffers, and the other subscriber is not affected.
func TestHeartbeatStalledPeerWithFullBuffer(t *testing.T) {
	// The raw peer's PINGs come from a goroutine of the test: a window of
	// a second of silence, not 150 ms, keeps a loaded scheduler from
	// making it look silent while it still sends.
	const hbTimeout = time.Second
	pub, pubLog := rbSocket(t, sockets.Pub, sockets.WithSendHWM(4), sockets.WithHeartbeat(hbIvl, hbTimeout, 0))
	addr, err := pub.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	sub, _ := rbSocket(t, sockets.Sub, sockets.WithSubscribe(""))
	require.NoError(t, sub.Dial(addr))

	r := rbDial(t, addr)
	require.NoError(t, r.c.(*net.TCPConn).SetReadBuffer(16<<10))
	r.handshake("SUB")
	r.mustWrite(rbFrame(0, []byte{1}))
	// The raw peer never reads, but sends a PING every 20 ms (so it is not
	// silent) until quiet is closed.
	quiet := make(chan struct{})
	pinger := make(chan struct{})
	go func() {
		defer close(pinger)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quiet:
				return
			case <-tick.C:
				if r.write(rbCommand("PING", []byte{0, 0})) != nil {
					return
				}
			}
		}
	}()
	defer func() {
		select {
		case <-quiet:
		default:
			close(quiet)
		}
		<-pinger
	}()
	ctx := rbCtx(t, 10*time.Second)
	rbAwaitSubscribed(t, ctx, pub, sub)

	// Publish in lockstep with the good subscriber until the stalled peer's
	// queue overflows: its writer is then blocked in Write.
	for i := 0; pub.Stats().Dropped == 0; i++ {
		require.Less(t, i, 2000, "the stalled peer's queue never filled")
		msg := make([]byte, 64<<10)
		binary.BigEndian.PutUint32(msg, uint32(i))
		require.NoError(t, pub.Send(ctx, msg))
		rbRecvData(t, ctx, sub, uint32(i))
	}
	assert.Equal(t, 0, pubLog.count(rbEnded), "dropped while it still sent:%s", pubLog)

	mark := pubLog.mark()
	start := time.Now()
	close(quiet)
	<-pinger
	ev := pubLog.await(t, mark, 5*time.Second, "heartbeat-timeout", rbFrom(sockets.EventHeartbeatTimeout, r.addr()))
	t.Logf("stalled peer dropped %v after it went silent (%d messages dropped)", ev.at.Sub(start), pub.Stats().Dropped)
	assert.Less(t, ev.at.Sub(start), hbIvl+hbTimeout+hbDetect)
	assert.Equal(t, uint64(1), pub.Stats().HeartbeatTimeouts)
	assert.Equal(t, int64(1), pub.Stats().Peers)
	require.NoError(t, pub.Send(ctx, []byte("after")))
	for {
		m, err := sub.Recv(ctx)
		require.NoError(t, err)
		if string(m[0]) != "probe" {
			assert.Equal(t, [][]byte{[]byte("after")}, m)
			break
		}
	}
}
