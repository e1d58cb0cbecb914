package engine

// ZMTP over WebSocket (RFC 45, ZWS 2.0).
//
// A ZWS connection carries no greeting: the security mechanism is the
// WebSocket subprotocol ("ZWS2.0/NULL", "ZWS2.0/PLAIN", and ours,
// "ZWS2.0/CURVE"), and every ZMTP frame travels as one binary WebSocket
// message: a flags byte (0x00 last frame, 0x01 more, 0x02 command) and the
// frame's body, with no length (the WebSocket message has one).
//
// Rather than a second engine, wsConn presents a ZWS connection as the byte
// stream of a ZMTP connection: reading, it hands out a greeting made up
// from the subprotocol and then each WebSocket message as a ZMTP frame
// (header, body); writing, it swallows our greeting and turns each ZMTP
// frame written into one WebSocket message. The handshake (zmq4.Open with
// our guard, PLAIN, CURVE and their callbacks), the decoder with its
// bounds, the writer, heartbeats and the pipes are the tcp ones, unchanged.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/go-zeromq/zmq4"
)

// ZWS 2.0 frame flags (RFC 45). Note that a command is 0x02 here, where
// ZMTP's frame header says 0x04 (0x02 there is the long-size bit).
const (
	zwsLast    = 0x00
	zwsMore    = 0x01
	zwsCommand = 0x02
)

// The WebSocket subprotocols, one per mechanism, and RFC 45's "no
// mechanism", the only one a browser can ask for ("/" is not allowed in a
// subprotocol token there).
const (
	SubprotocolBare  = "ZWS2.0"
	SubprotocolNull  = "ZWS2.0/NULL"
	SubprotocolPlain = "ZWS2.0/PLAIN"
	SubprotocolCurve = "ZWS2.0/CURVE"
)

// ErrWSProtocol wraps what a ZWS peer did wrong at the WebSocket level: a
// text message, an empty one, a flags byte ZWS does not define, or no
// subprotocol we speak.
var ErrWSProtocol = errors.New("ZWS protocol error")

// Subprotocol is the ZWS subprotocol that speaks security mechanism sec
// (nil: NULL).
func Subprotocol(sec zmq4.Security) string {
	if sec == nil {
		return SubprotocolNull
	}
	switch sec.Type() {
	case zmq4.PlainSecurity:
		return SubprotocolPlain
	case zmq4.CurveSecurity:
		return SubprotocolCurve
	}
	return SubprotocolNull
}

// zwsFlags maps a ZMTP frame header's flags to ZWS's.
func zwsFlags(zmtp byte) byte {
	switch {
	case zmtp&flagCommand != 0:
		return zwsCommand
	case zmtp&flagMore != 0:
		return zwsMore
	}
	return zwsLast
}

// zmtpFlags maps a ZWS flags byte to a ZMTP frame header's (less the
// long-size bit); ok is false for a byte ZWS does not define.
func zmtpFlags(zws byte) (byte, bool) {
	switch zws {
	case zwsLast:
		return 0, true
	case zwsMore:
		return flagMore, true
	case zwsCommand:
		return flagCommand, true
	}
	return 0, false
}

// greetingFor is the ZMTP 3.1 greeting a ZWS peer speaking mechanism mech
// would have sent: what zmq4's handshake reads first.
func greetingFor(mech string, asServer bool) []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, 3, 1
	copy(g[12:32], mech)
	if asServer {
		g[32] = 1
	}
	return g
}

// wsMsgBuf is the size of the pooled buffer a WebSocket message is read
// into; a message that does not fit goes on in chunks of bigAlloc bytes,
// charged to the socket's Budget while they are held.
const wsMsgBuf = 16 << 10

var wsBufPool = sync.Pool{New: func() any {
	b := make([]byte, wsMsgBuf)
	return &b
}}

// wsConn is a ZWS connection seen as a ZMTP byte stream (see the top of
// this file). One goroutine reads and one writes, as over tcp.
type wsConn struct {
	ws  wsMessages
	raw net.Conn // under the WebSocket (and TLS): deadlines, addresses
	// maxFrame bounds a WebSocket message (flags byte included); < 0: none.
	maxFrame int64
	budget   *Budget
	progress time.Duration // Options.ProgressTimeout

	// Reading.
	greeting []byte  // made-up greeting still to hand out
	hdr      [9]byte // the current frame's ZMTP header
	hdrN     int
	hdrOff   int
	bufp     *[]byte      // pooled buffer holding the message's first bytes
	first    []byte       // the part of *bufp still to hand out
	chunks   [][]byte     // the rest, in chunks
	charged  atomic.Int64 // chunk bytes charged to budget (Close gives them back too)
	dlMu     sync.Mutex
	dl       time.Time // the deadline our reader asked for

	// Writing.
	greetLeft int     // bytes of our greeting still to swallow
	whdr      [9]byte // a ZMTP frame header being collected
	whdrN     int
	wflags    byte
	wleft     uint64    // body bytes of the current frame still to come
	wbody     bool      // inside a frame's body
	wmsg      []byte    // the ZWS message being assembled
	cork      *corkConn // nil: writes go out as the WebSocket library makes them

	// bare: the connection speaks ZWS2.0 without a mechanism (RFC 45): each
	// side's first message is its routing id, and there is no READY. The
	// NULL handshake runs all the same, against a READY made up from the
	// peer's routing id (and a socket type that fits ours), while ours is
	// sent as our routing id.
	bare      bool
	ourType   zmq4.SocketType
	ourID     []byte
	idPending bool // our READY is still to be replaced by our routing id

	// The progress watchdog (progress > 0) ticks every progress/2. A
	// message under way records the tick it began at (or last brought a
	// chunk at); one that is still under way three ticks later (between
	// one and one and a half progress timeouts) is cut: the watchdog sets
	// a passed read deadline. So no clock is read and no deadline set for
	// each message, which cost more than the rest of its way here.
	tick    atomic.Uint64
	inMsg   atomic.Uint64 // 0: no message under way; else its tick + 1
	stalled atomic.Bool   // the watchdog cut a message short
	watch   atomic.Pointer[time.Timer]
	closed  atomic.Bool

	closeOnce sync.Once
}

// wsMessages is what wsConn uses of a *websocket.Conn (tests stand in).
type wsMessages interface {
	Reader(ctx context.Context) (websocket.MessageType, io.Reader, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	SetReadLimit(n int64)
	CloseNow() error
}

// newWSConn wraps an established WebSocket whose subprotocol chose the
// mechanism; server says which side accepted it.
func newWSConn(ws wsMessages, raw net.Conn, o *Options, server, bare bool) *wsConn {
	c := &wsConn{ws: ws, raw: raw, budget: o.Budget, progress: o.ProgressTimeout, greetLeft: 64, maxFrame: -1,
		bare: bare, idPending: bare, ourType: o.Type, ourID: o.Identity}
	mech := string(zmq4.NullSecurity)
	if o.Security != nil {
		mech = string(o.Security.Type())
	}
	c.greeting = greetingFor(mech, !server)
	if o.MaxMsgSize > 0 {
		c.maxFrame = 1 + o.MaxMsgSize
		if mech == string(zmq4.CurveSecurity) {
			c.maxFrame += sealOverhead
		}
		// Handshake commands may be longer than a small MaxMsgSize.
		c.maxFrame = max(c.maxFrame, 1+maxHandshakeFrame)
	}
	// Commands (PING contexts, SUBSCRIBE topics) are bounded as over tcp
	// by the decoder; this bounds what one message can make us read.
	ws.SetReadLimit(c.maxFrame)
	if c.progress > 0 {
		// Stored before its first tick can run.
		c.watch.Store(time.AfterFunc(time.Hour, c.watchdog))
		c.watch.Load().Reset(c.progress / 2)
	}
	return c
}

// watchdog is the progress watchdog's tick (see wsConn.tick).
func (c *wsConn) watchdog() {
	if c.closed.Load() {
		return
	}
	t := c.tick.Add(1)
	if m := c.inMsg.Load(); m != 0 && t >= m+2 {
		c.stalled.Store(true)
		_ = c.raw.SetReadDeadline(time.Now())
	}
	c.watch.Load().Reset(c.progress / 2)
}

// deadlinesEnd marks a connection whose read deadline, once passed, ends
// it: the WebSocket cannot go on after a read was cut. The engine then sets
// no deadline that it means to survive (the idle shrink).
func (c *wsConn) deadlinesEnd() {}

func (c *wsConn) Read(p []byte) (int, error) {
	if len(c.greeting) > 0 {
		n := copy(p, c.greeting)
		c.greeting = c.greeting[n:]
		return n, nil
	}
	if c.hdrOff == c.hdrN && len(c.first) == 0 && len(c.chunks) == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	// Never fill all the room the decoder gave: a full read asks it for a
	// bigger buffer, which an idle WebSocket would then keep.
	room := p
	if len(room) > 1 {
		room = room[:len(room)-1]
	}
	n := copy(room, c.hdr[c.hdrOff:c.hdrN])
	c.hdrOff += n
	for n < len(room) && len(c.first) > 0 {
		m := copy(room[n:], c.first)
		c.first = c.first[m:]
		n += m
		if len(c.first) == 0 && len(c.chunks) > 0 {
			c.first = c.chunks[0]
			c.chunks[0] = nil
			c.chunks = c.chunks[1:]
		}
	}
	if c.hdrOff == c.hdrN && len(c.first) == 0 && len(c.chunks) == 0 {
		c.release() // all handed out: the decoder has its own copy
	}
	return n, nil
}

// release gives back what the message handed out held.
func (c *wsConn) release() {
	if c.bufp != nil {
		wsBufPool.Put(c.bufp)
		c.bufp = nil
	}
	c.budget.give(c.charged.Swap(0))
	c.first, c.chunks = nil, nil
}

// next reads the next WebSocket message whole and makes it a ZMTP frame.
// The length goes first in a ZMTP header, so the message is read before
// any of it is handed out: in a pooled buffer, and beyond that in chunks
// charged to the socket's Budget (the decoder charges the frame again
// while it copies it, so a large frame costs up to twice its size for a
// moment).
func (c *wsConn) next() (err error) {
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return c.readErr(err)
	}
	if typ != websocket.MessageBinary {
		return fmt.Errorf("%w: a text message (ZWS messages are binary)", ErrWSProtocol)
	}
	c.armProgress()
	defer c.disarmProgress()
	c.bufp = wsBufPool.Get().(*[]byte)
	buf := *c.bufp
	n, err := io.ReadFull(r, buf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		buf = buf[:n]
	case err != nil:
		return c.readErr(err)
	default:
		for {
			c.armProgress()
			// A chunk no larger than what the read limit lets come.
			size := int64(bigAlloc)
			if c.maxFrame > 0 {
				size = max(1, min(size, c.maxFrame+1-int64(n)))
			}
			if err := c.budget.take(size); err != nil {
				return err
			}
			c.charged.Add(size)
			ch := make([]byte, size)
			m, err := io.ReadFull(r, ch)
			if m > 0 {
				c.chunks = append(c.chunks, ch[:m])
			}
			n += m
			c.budget.give(size - int64(m))
			c.charged.Add(-(size - int64(m)))
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				break
			}
			if err != nil {
				return c.readErr(err)
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: an empty message (a ZWS frame has a flags byte)", ErrWSProtocol)
	}
	flags, ok := zmtpFlags(buf[0])
	if !ok {
		return fmt.Errorf("%w: 0x%02x", ErrBadFlags, buf[0])
	}
	c.setHeader(flags, uint64(n-1))
	c.first = buf[1:]
	if c.bare {
		return c.readyFromRoutingID(flags, n)
	}
	return nil
}

// readyFromRoutingID turns a bare peer's first message, its routing id,
// into the READY our NULL handshake reads.
func (c *wsConn) readyFromRoutingID(flags byte, n int) error {
	c.bare = false // from now on, frames as they come
	if flags != 0 || len(c.chunks) > 0 || n-1 > 255 {
		return fmt.Errorf("%w: a ZWS2.0 peer's first message is its routing id (one frame, at most 255 bytes)", ErrWSProtocol)
	}
	id := c.first
	body := append([]byte{5}, "READY"...)
	prop := func(name string, v []byte) {
		body = append(body, byte(len(name)))
		body = append(body, name...)
		body = binary.BigEndian.AppendUint32(body, uint32(len(v)))
		body = append(body, v...)
	}
	prop("Socket-Type", []byte(impliedPeer(c.ourType)))
	if len(id) > 0 {
		prop("Identity", id)
	}
	c.setHeader(flagCommand, uint64(len(body)))
	c.first = body
	return nil
}

// setHeader makes the ZMTP header of the frame to hand out next.
func (c *wsConn) setHeader(flags byte, size uint64) {
	if size > 255 {
		c.hdr[0] = flags | flagLong
		binary.BigEndian.PutUint64(c.hdr[1:], size)
		c.hdrN = 9
	} else {
		c.hdr[0], c.hdr[1] = flags, byte(size)
		c.hdrN = 2
	}
	c.hdrOff = 0
}

// impliedPeer is the socket type a bare ZWS2.0 peer is taken for: it does
// not say, so the one that fits ours (a browser's SUB, REQ or DEALER).
func impliedPeer(t zmq4.SocketType) zmq4.SocketType {
	switch t {
	case zmq4.Pub, zmq4.XPub:
		return zmq4.Sub
	case zmq4.Sub, zmq4.XSub:
		return zmq4.Pub
	case zmq4.Req:
		return zmq4.Rep
	case zmq4.Rep:
		return zmq4.Req
	case zmq4.Push:
		return zmq4.Pull
	case zmq4.Pull:
		return zmq4.Push
	case zmq4.Pair:
		return zmq4.Pair
	}
	return zmq4.Dealer // for DEALER and ROUTER
}

// armProgress arms the progress timeout while a message arrives: its
// next chunk (bigAlloc bytes, the first wsMsgBuf), or its end, must come
// within it. The decoder cannot see a WebSocket message arrive (it gets
// none of it before the whole is there), so the connection does.
func (c *wsConn) armProgress() {
	if c.progress > 0 {
		c.inMsg.Store(c.tick.Load() + 1)
	}
}

// disarmProgress says no message is under way.
func (c *wsConn) disarmProgress() {
	if c.progress > 0 {
		c.inMsg.Store(0)
	}
}

// readErr words a failed read for the engine: a passed deadline is a
// net.Error timeout (the engine knows which deadline it set) unless it was
// the progress timeout's.
func (c *wsConn) readErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if c.stalled.Load() {
			return fmt.Errorf("%w (%v)", ErrStalled, c.progress)
		}
		return ne
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return fmt.Errorf("%w: a WebSocket message over %d bytes", ErrTooLarge, c.maxFrame)
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.StatusNormalClosure || ce.Code == websocket.StatusGoingAway {
			return io.EOF
		}
		return fmt.Errorf("%w: peer closed with %v", ErrWSProtocol, ce)
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return io.EOF
	}
	return err
}

// Write takes the ZMTP byte stream our side writes and sends each frame
// as a WebSocket message.
func (c *wsConn) Write(p []byte) (n int, err error) {
	if c.cork != nil {
		c.cork.cork()
		defer func() {
			if uerr := c.cork.uncork(); uerr != nil && err == nil {
				err = c.writeErr(uerr)
			}
		}()
	}
	total := len(p)
	if c.greetLeft > 0 {
		n := min(c.greetLeft, len(p))
		c.greetLeft -= n
		p = p[n:]
	}
	for len(p) > 0 {
		if !c.wbody {
			c.whdr[c.whdrN] = p[0]
			c.whdrN++
			p = p[1:]
			long := c.whdr[0]&flagLong != 0
			if (long && c.whdrN < 9) || (!long && c.whdrN < 2) {
				continue
			}
			if long {
				c.wleft = binary.BigEndian.Uint64(c.whdr[1:9])
			} else {
				c.wleft = uint64(c.whdr[1])
			}
			c.wflags, c.whdrN, c.wbody = zwsFlags(c.whdr[0]), 0, true
			c.wmsg = append(c.wmsg[:0], c.wflags)
		}
		n := int(min(c.wleft, uint64(len(p))))
		c.wmsg = append(c.wmsg, p[:n]...)
		p = p[n:]
		c.wleft -= uint64(n)
		if c.wleft == 0 {
			c.wbody = false
			if c.idPending && c.wflags == zwsCommand {
				// Our READY, to a bare peer: our routing id instead.
				c.idPending = false
				c.wmsg = append(append(c.wmsg[:0], zwsLast), c.ourID...)
			}
			if err := c.ws.Write(context.Background(), websocket.MessageBinary, c.wmsg); err != nil {
				return total - len(p), c.writeErr(err)
			}
			if cap(c.wmsg) > 2*wsMsgBuf {
				c.wmsg = nil // a large frame's copy is not kept
			}
		}
	}
	return total, nil
}

func (c *wsConn) writeErr(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return net.ErrClosed
	}
	return err
}

// Close drops the connection at once (no closing handshake: the engine
// closes when it is done or the peer misbehaved).
func (c *wsConn) Close() error {
	c.closed.Store(true)
	if t := c.watch.Load(); t != nil {
		t.Stop()
	}
	c.closeOnce.Do(func() { _ = c.ws.CloseNow() })
	// What a message cut short held is the socket's budget again (the
	// reader may have stopped half-way: a frame over the maximum size).
	c.budget.give(c.charged.Swap(0))
	return c.raw.Close()
}

func (c *wsConn) LocalAddr() net.Addr  { return c.raw.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

func (c *wsConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.dl = t
	c.dlMu.Unlock()
	return c.raw.SetReadDeadline(t)
}

func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// deadlineEnds is what conn.read asks of a connection that cannot survive
// a passed read deadline.
type deadlineEnds interface{ deadlinesEnd() }

// parseWS checks a ws:// or wss:// endpoint: host:port as for tcp, then
// an optional path ("/" when there is none).
func parseWS(ep Endpoint, s string, bind bool) (Endpoint, error) {
	hostport, urlPath := splitWS(ep.Address)
	tcp, err := ParseEndpoint("tcp://"+hostport, bind)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: want %s://host:port/path", ErrBadEndpoint, s, ep.Transport)
	}
	if strings.ContainsAny(urlPath, "?# ") {
		return Endpoint{}, fmt.Errorf("%w %q: a ws path has no query, fragment or space", ErrBadEndpoint, s)
	}
	ep.Address = tcp.Address + urlPath
	return ep, nil
}
