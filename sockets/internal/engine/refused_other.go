//go:build !windows

package engine

import "syscall"

// errRefusedWindows matches nothing here (see refused_windows.go); it is
// ECONNREFUSED again.
var errRefusedWindows error = syscall.ECONNREFUSED
