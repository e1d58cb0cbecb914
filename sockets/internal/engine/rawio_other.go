//go:build !linux

package engine

import (
	"io"
	"net"
)

// connIO is c itself: the bare calls are Linux's (rawio_linux.go).
func connIO(c net.Conn) io.ReadWriter { return c }
