package sockets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Stream is libzmq's STREAM socket type: it talks to plain TCP (or unix
// socket) peers that speak no ZMTP. See NewStream.
const Stream Type = "STREAM"

// ErrStreamMessage is returned by Send on a STREAM socket for a message that
// is not [routing id, data].
var ErrStreamMessage = errors.New("a STREAM message is [routing id, data]")

// streamReadChunk is the most a STREAM connection reads at once, and so the
// largest message it delivers: libzmq's default in_batch_size.
const streamReadChunk = 8192

// NewStream creates a STREAM socket: each connection is a raw byte stream to
// a peer that speaks no ZMTP (a web client, a line protocol, a legacy
// server), framed as libzmq frames it:
//
//   - Recv returns [routing id, data], data being what one read of the
//     connection brought (at most 8 KiB, as libzmq's reads); message
//     boundaries are the network's, not the sender's.
//   - A new connection, accepted by Listen or made by Dial, is announced as
//     [routing id, empty]; so is its end, when the peer closes it or it
//     fails (not when the application closed it).
//   - Send([routing id, data]) writes data to that peer as it is; it waits
//     while the peer is slow to read, until ctx ends (a write cut short by
//     ctx leaves the peer's stream in an unknown place, so the connection
//     is closed and its end announced). Send([routing id, empty]) closes
//     that peer's connection. An unknown routing id is
//     ErrHostUnreachable (libzmq's EHOSTUNREACH).
//
// Routing ids are 5 bytes, a zero and 4 random ones, unique among the
// socket's connections. A Dial reconnects after its connection ends (with a
// new routing id and a new announcement) until Disconnect or Close. Only
// tcp and ipc endpoints are taken.
//
// What a peer can make the socket hold is bounded: per connection at most
// WithRecvHWM messages and WithRecvBufferBytes bytes (each message counted
// with its routing id and 2×32 bytes of overhead; a connection with nothing
// waiting may always read one chunk), and across connections the receive
// bound of WithSocketBufferBytes (a chunk read while the socket is at that
// bound waits in its connection's 8 KiB read buffer). At a bound the
// connection stops reading until Recv makes room, so TCP flow control
// slows the peer down.
func NewStream(opts ...Option) (*Socket, error) { return New(Stream, opts...) }

// streamSocket is the STREAM behaviour. It holds no pipes: the engine hands
// it each connection (Socket.ServeRaw), whose goroutine reads into one
// queue for the whole socket, bounded per connection; Send writes to the
// connection directly, so nothing waits to be written and Close has
// nothing to linger for.
type streamSocket struct {
	s *Socket

	mu    sync.Mutex
	peers map[string]*streamPeer // by routing id
	q     []streamItem           // received, oldest first
	held  int64                  // bytes q holds, at cost

	room signal // Recv made room
}

type streamItem struct {
	p    *streamPeer
	m    engine.Msg
	cost int64
}

// streamPeer is one connection of a STREAM socket.
type streamPeer struct {
	id   []byte
	rc   *engine.RawConn
	info engine.Peer

	msgs  int   // messages of this peer in q, under mu
	bytes int64 // and their cost, under mu

	wsem chan struct{} // held by the one Send writing to the peer
	byUs atomic.Bool   // the application closed it: no end announcement
}

// streamOptionsOK refuses the options that act on ZMTP, which a STREAM
// connection does not speak: an option that means nothing to the type is
// an error, not a silent no-op.
func streamOptionsOK(c *config) error {
	var opt string
	switch {
	case c.Security != nil && c.Security.Type() != zmq4.NullSecurity:
		opt = "a security mechanism (PLAIN, CURVE)"
	case c.HeartbeatIvl > 0 || c.HeartbeatTimeout > 0 || c.HeartbeatTTL > 0:
		opt = "WithHeartbeat"
	case len(c.Metadata) > 0:
		opt = "WithMetadata"
	case c.ConflateIn || c.ConflateOut:
		opt = "WithConflate"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s on a STREAM socket, whose peers speak no ZMTP", ErrBadOption, opt)
}

func newStream(s *Socket) *streamSocket {
	return &streamSocket{s: s, peers: make(map[string]*streamPeer)}
}

func (x *streamSocket) attach(*engine.Pipe) error    { return ErrNotSupported }
func (x *streamSocket) detach(*engine.Pipe)          {}
func (x *streamSocket) connected(*engine.Pipe) error { return ErrNotSupported }

// ServeRaw is engine.RawHost.ServeRaw: it serves one connection of a
// STREAM socket.
func (h *host) ServeRaw(c *engine.RawConn) error {
	s := (*Socket)(h)
	x, ok := s.b.(*streamSocket)
	if !ok {
		return ErrNotSupported
	}
	return x.serve(c)
}

// cost is what a message of n data bytes from p counts for.
func (p *streamPeer) cost(n int) int64 { return int64(len(p.id)+n) + 2*engine.FrameOverhead }

// message builds [id, data] in one allocation: the caller owns it all.
func (p *streamPeer) message(data []byte) engine.Msg {
	b := make([]byte, len(p.id)+len(data))
	copy(b, p.id)
	copy(b[len(p.id):], data)
	return engine.Msg{Head: b[:len(p.id):len(p.id)], Tail: [][]byte{b[len(p.id):]}}
}

// push queues m from p; called with mu held. The caller fires recvSig.
func (x *streamSocket) push(p *streamPeer, m engine.Msg, cost int64) {
	x.q = append(x.q, streamItem{p: p, m: m, cost: cost})
	p.msgs++
	p.bytes += cost
	x.held += cost
}

// roomFor is how many bytes p may read now under its own bounds (0:
// none); called with mu held. Only p's goroutine adds p's messages, so
// what it finds stays true until it pushes.
func (x *streamSocket) roomFor(p *streamPeer) int {
	o := &x.s.cfg
	if o.RecvHWM > 0 && p.msgs >= o.RecvHWM {
		return 0
	}
	avail := int64(streamReadChunk)
	if o.RecvBytes > 0 && p.msgs > 0 {
		avail = min(avail, o.RecvBytes-p.bytes-p.cost(0))
	}
	return int(max(avail, 0))
}

// socketRoom reports whether a message of the given cost fits the socket's
// bound now (an empty socket takes any one); called with mu held. Several
// connections fill the socket at once, so the check and the push go
// together under mu (pushWhenRoom).
func (x *streamSocket) socketRoom(cost int64) bool {
	lim := x.s.cfg.socketRecv
	return lim <= 0 || x.held == 0 || x.held+cost <= lim
}

// pushWhenRoom queues what p read once the socket has room for it; until
// then the bytes wait in p's read buffer, which exists anyway. false: the
// connection or the socket closed meanwhile.
func (x *streamSocket) pushWhenRoom(p *streamPeer, data []byte) bool {
	cost := p.cost(len(data))
	try := func() bool {
		x.mu.Lock()
		ok := x.socketRoom(cost)
		if ok {
			x.push(p, p.message(data), cost)
		}
		x.mu.Unlock()
		if ok {
			x.s.recvSig.fire()
		}
		return ok
	}
	for {
		if try() {
			return true
		}
		ch := x.room.wait()
		if try() {
			return true
		}
		select {
		case <-ch:
		case <-p.rc.Closed():
			return false
		case <-x.s.closeCh:
			return false
		}
	}
}

// waitRoom waits until p may read, and says how much; false: the
// connection or the socket closed meanwhile.
func (x *streamSocket) waitRoom(p *streamPeer) (int, bool) {
	for {
		x.mu.Lock()
		n := x.roomFor(p)
		x.mu.Unlock()
		if n > 0 {
			return n, true
		}
		ch := x.room.wait()
		x.mu.Lock()
		n = x.roomFor(p)
		x.mu.Unlock()
		if n > 0 {
			return n, true
		}
		select {
		case <-ch:
		case <-p.rc.Closed():
			return 0, false
		case <-x.s.closeCh:
			return 0, false
		}
	}
}

// newID makes a routing id no connection has now; called with mu held.
func (x *streamSocket) newID() []byte {
	for {
		id := make([]byte, 5)
		_, _ = rand.Read(id[1:]) // crypto/rand.Read does not fail
		if _, taken := x.peers[string(id)]; !taken {
			return id
		}
	}
}

// serve announces the connection, reads it until it ends, then announces
// its end.
func (x *streamSocket) serve(rc *engine.RawConn) error {
	p := &streamPeer{rc: rc, wsem: make(chan struct{}, 1), info: engine.Peer{Type: engine.StreamType, Remote: rc.Remote}}
	x.mu.Lock()
	if x.s.isClosed() {
		x.mu.Unlock()
		return ErrClosed
	}
	p.id = x.newID()
	x.peers[string(p.id)] = p
	x.push(p, p.message(nil), p.cost(0))
	x.mu.Unlock()
	x.s.recvSig.fire()
	x.s.st.peers.Add(1)
	defer x.s.st.peers.Add(-1)

	var err error
	buf := make([]byte, streamReadChunk)
	for {
		n, ok := x.waitRoom(p)
		if !ok {
			break
		}
		n, rerr := rc.Read(buf[:n])
		if n > 0 && !x.pushWhenRoom(p, buf[:n]) {
			break
		}
		if rerr != nil {
			select {
			case <-rc.Closed(): // closed here: not the peer's doing
			default:
				if !errors.Is(rerr, io.EOF) {
					err = rerr
				}
			}
			break
		}
	}
	_ = rc.Close()

	x.mu.Lock()
	delete(x.peers, string(p.id))
	announce := !p.byUs.Load() && !x.s.isClosed()
	if announce {
		// Past the bounds if need be: one small message per connection.
		x.push(p, p.message(nil), p.cost(0))
	}
	x.mu.Unlock()
	if announce {
		x.s.recvSig.fire()
	}
	return err
}

func (x *streamSocket) recv(ctx context.Context, from **engine.Peer) (engine.Msg, error) {
	s := x.s
	for {
		if s.isClosed() {
			return engine.Msg{}, ErrClosed
		}
		if m, ok := x.tryRecv(from); ok {
			return m, nil
		}
		ch := s.recvSig.wait()
		if m, ok := x.tryRecv(from); ok {
			return m, nil
		}
		if err := s.wait(ctx, ch); err != nil {
			return engine.Msg{}, err
		}
	}
}

func (x *streamSocket) tryRecv(from **engine.Peer) (engine.Msg, bool) {
	x.mu.Lock()
	if len(x.q) == 0 {
		x.mu.Unlock()
		return engine.Msg{}, false
	}
	it := x.q[0]
	x.q[0] = streamItem{}
	x.q = x.q[1:]
	if len(x.q) == 0 {
		x.q = nil // let the backing array go
	}
	it.p.msgs--
	it.p.bytes -= it.cost
	x.held -= it.cost
	x.mu.Unlock()
	x.room.fire()
	if from != nil {
		*from = &it.p.info
	}
	return it.m, true
}

func (x *streamSocket) send(ctx context.Context, m engine.Msg) error {
	if len(m.Tail) != 1 {
		return fmt.Errorf("%w: got %d frames", ErrStreamMessage, 1+len(m.Tail))
	}
	if x.s.isClosed() {
		return ErrClosed
	}
	x.mu.Lock()
	p := x.peers[string(m.Head)]
	x.mu.Unlock()
	if p == nil {
		return ErrHostUnreachable
	}
	data := m.Tail[0]
	if len(data) == 0 {
		p.byUs.Store(true)
		_ = p.rc.Close()
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case p.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-x.s.closeCh:
		return ErrClosed
	case <-p.rc.Closed():
		return ErrHostUnreachable
	}
	defer func() { <-p.wsem }()
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = p.rc.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	_, err := p.rc.Write(data)
	if !stop() {
		<-fired
		if err != nil {
			// Cut short: how much the peer got is unknown.
			_ = p.rc.Close()
			return ctx.Err()
		}
		_ = p.rc.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		if x.s.isClosed() {
			return ErrClosed
		}
		return fmt.Errorf("%w: %w", ErrHostUnreachable, err)
	}
	return nil
}
