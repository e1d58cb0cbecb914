package engine

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// StreamType is libzmq's STREAM socket type. Its connections carry no
// ZMTP: no greeting, no handshake, no framing. The engine accepts, dials
// and reconnects them as any other, then hands each established one to the
// socket's RawHost.ServeRaw instead of a pipe.
const StreamType = "STREAM"

// RawHost is the Host of a STREAM socket.
type RawHost interface {
	Host
	// ServeRaw serves one established connection until it ends, and
	// returns why (nil for an orderly end). It must return once c is
	// closed (c.Closed is closed then): the engine closes it at Unbind,
	// Disconnect and the socket's Close.
	ServeRaw(c *RawConn) error
}

// isRaw reports whether the host's connections are raw.
func isRaw(o *Options) bool { return o.Type == StreamType }

// rawTransportOK refuses inproc for a raw host: there are no bytes to carry.
func rawTransportOK(o *Options, ep Endpoint, endpoint string) error {
	if isRaw(o) && (ep.Transport == "inproc" || ep.Transport == "ws" || ep.Transport == "wss") {
		return fmt.Errorf("%w %q: a STREAM socket takes tcp and ipc only", ErrBadEndpoint, endpoint)
	}
	return nil
}

// RawConn is a connection of a STREAM socket.
type RawConn struct {
	net.Conn
	Endpoint string // the endpoint it came from (listen or dial)
	Outbound bool   // made by Dial
	Remote   string // the peer's address

	once   sync.Once
	closed chan struct{}
}

func newRawConn(c net.Conn, endpoint string, outbound bool) *RawConn {
	return &RawConn{Conn: c, Endpoint: endpoint, Outbound: outbound, Remote: c.RemoteAddr().String(), closed: make(chan struct{})}
}

// Close closes the connection; Closed is closed then. It may be called
// more than once.
func (r *RawConn) Close() error {
	err := net.ErrClosed
	r.once.Do(func() {
		close(r.closed)
		err = r.Conn.Close()
	})
	return err
}

// Closed is closed once Close was called.
func (r *RawConn) Closed() <-chan struct{} { return r.closed }

// serveRaw runs one accepted raw connection (already tracked by the group).
func (l *Listener) serveRaw(rc *RawConn) {
	l.host.Emit(Event{Kind: EventAccepted, Endpoint: l.addr, Remote: rc.Remote})
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = rc.Close()
		return
	}
	if l.raws == nil {
		l.raws = make(map[*RawConn]struct{})
	}
	l.raws[rc] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.raws, rc)
		l.mu.Unlock()
	}()
	l.host.Emit(Event{Kind: EventConnected, Endpoint: l.addr, Remote: rc.Remote})
	err := l.host.(RawHost).ServeRaw(rc)
	_ = rc.Close()
	emitEnd(l.host, Event{Endpoint: l.addr, Remote: rc.Remote, Err: err})
}

// closeRaws closes the raw connections accepted here (Listener.Close).
func (l *Listener) closeRaws() {
	l.mu.Lock()
	raws := make([]*RawConn, 0, len(l.raws))
	for rc := range l.raws {
		raws = append(raws, rc)
	}
	l.mu.Unlock()
	for _, rc := range raws {
		_ = rc.Close()
	}
}

// runRaw serves one dialled raw connection until it ends, or until the
// dialer gives up (quit), which closes it.
func (d *Dialer) runRaw(c net.Conn, quit <-chan struct{}, backoff *time.Duration, o *Options) error {
	rc := newRawConn(c, d.raw, true)
	if !d.g.track(rc) {
		_ = rc.Close()
		return nil
	}
	defer d.g.untrack(rc)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-quit:
			_ = rc.Close()
		case <-rc.Closed():
		}
	}()
	*backoff = o.ReconnectIvl
	d.host.Emit(Event{Kind: EventConnected, Endpoint: d.raw, Remote: rc.Remote})
	err := d.host.(RawHost).ServeRaw(rc)
	_ = rc.Close()
	<-watched
	emitEnd(d.host, Event{Endpoint: d.raw, Remote: rc.Remote, Err: err})
	return nil
}
