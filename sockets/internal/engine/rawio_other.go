//go:build !linux

package engine

import "net"

// rawIO is Linux's; elsewhere connections are read and written through
// their own methods.
type rawIO struct{}

func newRawIO(net.Conn) *rawIO { return nil }

func (*rawIO) Read([]byte) (int, error)  { panic("unreachable") }
func (*rawIO) Write([]byte) (int, error) { panic("unreachable") }
func (*rawIO) Writev([][]byte) error     { panic("unreachable") }
