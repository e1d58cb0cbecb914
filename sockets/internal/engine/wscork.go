package engine

import (
	"net"
	"sync"
)

// corkConn sits under the WebSocket library, which flushes every message
// it writes: while corked, writes are gathered and go out together at
// uncork, so that a batch the engine's writer flushes at once (many ZWS
// messages) costs one system call, as over tcp, rather than one each.
// Writes that do not fit in corkMax, and writes while uncorked (control
// frames from the reading side), go straight through, in order.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	bufp   *[]byte // from corkPool while corked
	err    error   // a failed write: every later one fails too
}

const corkMax = 64 << 10

var corkPool = sync.Pool{New: func() any {
	b := make([]byte, 0, corkMax)
	return &b
}}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.corked {
		if c.bufp == nil {
			c.bufp = corkPool.Get().(*[]byte)
		}
		if b := *c.bufp; len(b)+len(p) <= cap(b) {
			*c.bufp = append(b, p...)
			return len(p), nil
		}
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) < corkMax {
			*c.bufp = append(*c.bufp, p...)
			return len(p), nil
		}
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *corkConn) flushLocked() error {
	if c.bufp == nil || len(*c.bufp) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.bufp)
	*c.bufp = (*c.bufp)[:0]
	if err != nil {
		c.err = err
	}
	return err
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was gathered and gives the buffer back.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	err := c.flushLocked()
	if c.bufp != nil {
		*c.bufp = (*c.bufp)[:0]
		corkPool.Put(c.bufp)
		c.bufp = nil
	}
	return err
}
