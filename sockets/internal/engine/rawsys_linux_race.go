//go:build linux && race

package engine

import (
	"syscall"
	"unsafe"
)

// Under the race detector rawIO's calls go through package syscall, as
// net.Conn's do. syscall's Write and Read tell the detector that whatever
// a goroutine did before writing to any descriptor happens before what
// another goroutine does after reading from one: a test that hands a
// value from one goroutine to another through a socket relies on that,
// and bare calls would make such tests report races. Speed does not
// matter here; the logic around the calls is the same.

func sysRead(fd uintptr, b []byte) (int, syscall.Errno) {
	return result(syscall.Read(int(fd), b))
}

func sysWrite(fd uintptr, b []byte) (int, syscall.Errno) {
	return result(syscall.Write(int(fd), b))
}

func sysWritev(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) {
	// An empty write, for its annotation; writev has no wrapper in syscall.
	_, _ = syscall.Write(int(fd), nil)
	n, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(unsafe.SliceData(iov))), uintptr(len(iov)))
	return int(n), e
}

func result(n int, err error) (int, syscall.Errno) {
	if err != nil {
		e, _ := err.(syscall.Errno)
		return 0, e
	}
	return n, 0
}
