package engine

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// wsSlack is how many connections beyond Options.MaxConns a ws listener
// accepts at once: room to answer the requests over the bound with a 503
// rather than a bare close.
const wsSlack = 64

// capListener bounds the TCP connections a ws listener holds at once,
// those still sending their HTTP request included (net/http would take any
// number): one more is closed at accept and reported, as the tcp accept
// loop does.
type capListener struct {
	net.Listener
	l    *Listener
	max  int64
	open atomic.Int64
}

func (c *capListener) Accept() (net.Conn, error) {
	for {
		conn, err := c.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c.open.Add(1) > c.max {
			c.open.Add(-1)
			// Counted before the close: a peer that sees its connection
			// closed finds the rejection in the stats already.
			c.l.host.Emit(Event{Kind: EventRejected, Endpoint: c.l.addr, Remote: conn.RemoteAddr().String(),
				Err: fmt.Errorf("%w: %d connections (WithMaxConnections and %d more to answer)", ErrTooManyConnections, c.max, wsSlack)})
			_ = conn.Close()
			continue
		}
		return &countedConn{Conn: conn, open: &c.open}, nil
	}
}

// countedConn gives its place back when closed (once).
type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
