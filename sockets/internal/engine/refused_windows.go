package engine

import "syscall"

// errRefusedWindows is WSAECONNREFUSED, which syscall.ECONNREFUSED does
// not match on Windows.
var errRefusedWindows error = syscall.Errno(10061)
