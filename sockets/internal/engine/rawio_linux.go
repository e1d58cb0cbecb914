package engine

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a TCP or Unix socket with bare read(2), write(2)
// and writev(2) called inside the connection's RawConn. The runtime's
// netpoller still waits for the socket to be ready and still enforces the
// read deadline; what the calls skip is the runtime's bookkeeping for a
// syscall that may block (entersyscall). The socket is non-blocking, so
// none of these calls blocks. That bookkeeping wakes the runtime's monitor
// thread (sysmon) when it sleeps, which it does whenever the whole process
// is idle, and sysmon then polls every 20 µs for a millisecond or more. A
// receiver fed in bursts goes idle between them, so it paid a sysmon wake-up
// and that polling after every burst: a paced 128 B subscriber at 400k
// msgs/s spent a quarter of its CPU less without it, with a third fewer
// context switches, and a one-way round trip got 10–14 % shorter.
//
// What a call may move is bounded (maxRawIO): a goroutine in a raw call
// holds its P, so a stop-the-world waits for the call to end. Under the
// race detector the calls go through package syscall after all (see
// rawsys_linux_race.go).
type rawIO struct {
	rc syscall.RawConn
	c  net.Conn // for its addresses, in errors
	// the read under way
	b   []byte
	n   int
	err error
	rfn func(fd uintptr) bool
	// the write under way: what is left of it
	wb   []byte
	iov  []syscall.Iovec
	werr error
	wfn  func(fd uintptr) bool
	wvfn func(fd uintptr) bool
}

const (
	// maxRawIO bounds the bytes one call reads or writes: at memory speed
	// a few tens of microseconds.
	maxRawIO = 256 << 10
	// maxIov is how many segments one writev takes (Linux's IOV_MAX).
	maxIov = 1024
)

// connIO is what a connection is read and written through: its bare calls
// where it has them, else c itself.
func connIO(c net.Conn) io.ReadWriter {
	if r := newRawIO(c); r != nil {
		return r
	}
	return c
}

// newRawIO returns nil for connections it does not know (WebSocket,
// wrapped or test connections): those are read and written through their
// own methods.
func newRawIO(c net.Conn) *rawIO {
	var sc syscall.Conn
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawIO{rc: rc, c: c}
	r.rfn, r.wfn, r.wvfn = r.read, r.write, r.writev
	return r
}

func (r *rawIO) read(fd uintptr) bool {
	for {
		n, errno := sysRead(fd, r.b[:min(len(r.b), maxRawIO)])
		switch errno {
		case 0:
			r.n, r.err = n, nil
			if n == 0 {
				r.err = io.EOF
			}
			return true
		case syscall.EAGAIN:
			return false // the RawConn waits until the socket is readable
		case syscall.EINTR:
		default:
			r.n, r.err = 0, r.opError("read", errno)
			return true
		}
	}
}

// opError is the error net.Conn's methods would return for errno.
func (r *rawIO) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: r.c.LocalAddr().Network(), Source: r.c.LocalAddr(), Addr: r.c.RemoteAddr(),
		Err: os.NewSyscallError(op, errno)}
}

// Read reads into b as net.Conn's Read does.
func (r *rawIO) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.b = b
	err := r.rc.Read(r.rfn)
	r.b = nil
	if err != nil {
		return 0, err
	}
	return r.n, r.err
}

func (r *rawIO) write(fd uintptr) bool {
	for len(r.wb) > 0 {
		n, errno := sysWrite(fd, r.wb[:min(len(r.wb), maxRawIO)])
		switch {
		case errno == 0 && n == 0:
			r.werr = io.ErrShortWrite
			return true
		case errno == 0:
			r.wb = r.wb[n:]
		case errno == syscall.EAGAIN:
			return false // the RawConn waits until the socket has room
		case errno == syscall.EINTR:
		default:
			r.werr = r.opError("write", errno)
			return true
		}
	}
	return true
}

// Write writes all of b, waiting for room as net.Conn's Write does.
func (r *rawIO) Write(b []byte) (int, error) {
	r.wb, r.werr = b, nil
	err := r.rc.Write(r.wfn)
	n := len(b) - len(r.wb)
	r.wb = nil
	if err == nil {
		err = r.werr
	}
	return n, err
}

func (r *rawIO) writev(fd uintptr) bool {
	for len(r.iov) > 0 {
		// At most maxIov segments and about maxRawIO bytes a call: the
		// segment that crosses the bound goes in shortened.
		k, total, last := 0, 0, 0
		for k < len(r.iov) && k < maxIov && total < maxRawIO {
			last = int(r.iov[k].Len)
			total += last
			k++
		}
		if total > maxRawIO {
			r.iov[k-1].SetLen(last - (total - maxRawIO))
		}
		n, errno := sysWritev(fd, r.iov[:k])
		r.iov[k-1].SetLen(last)
		switch {
		case errno == 0 && n == 0:
			r.werr = io.ErrShortWrite
			return true
		case errno == 0:
			r.consume(n)
		case errno == syscall.EAGAIN:
			return false
		case errno == syscall.EINTR:
		default:
			r.werr = r.opError("writev", errno)
			return true
		}
	}
	return true
}

// consume drops the first n written bytes from the segments left.
func (r *rawIO) consume(n int) {
	for len(r.iov) > 0 && n >= int(r.iov[0].Len) {
		n -= int(r.iov[0].Len)
		r.iov = r.iov[1:]
	}
	if n > 0 {
		v := &r.iov[0]
		v.Base = (*byte)(unsafe.Add(unsafe.Pointer(v.Base), n))
		v.SetLen(int(v.Len) - n)
	}
}

// Writev writes the segments in order, all of them, as one stream.
func (r *rawIO) Writev(segs [][]byte) error {
	iov := r.iov[:0]
	for _, b := range segs {
		if len(b) > 0 {
			v := syscall.Iovec{Base: unsafe.SliceData(b)}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
	}
	r.iov, r.werr = iov, nil
	err := r.rc.Write(r.wvfn)
	clear(iov[:cap(iov)]) // keep no reference to the bodies
	r.iov = iov[:0]
	if err == nil {
		err = r.werr
	}
	return err
}
