package engine

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// Writer encodes ZMTP frames for one connection and hands them to the kernel
// in as few system calls as it can.
//
// Small frames are copied, header and body, into a staging buffer. A frame
// whose body is at least gatherMin bytes is not copied: its header goes into
// the staging buffer and the body is queued by reference, and Flush passes
// staging segments and bodies to a single vectored write (writev on TCP and
// Unix sockets). The body memory belongs to the engine from the moment the
// socket took the message (Send hands frames over), so referencing it until
// the flush is safe; it saves one copy of every large frame, which at 10 KiB
// messages is a third of the bytes the CPU moves.
type Writer struct {
	w   io.Writer
	buf []byte   // staging; never grown, so segments queued in iov stay valid
	iov [][]byte // staging segments and large bodies, in wire order, when gathering
	seg int      // start of the staging bytes not yet in iov
	big int      // bytes of bodies queued in iov
	nb  net.Buffers
	// cipher, when set, turns every frame into an encrypted MESSAGE command.
	cipher FrameCipher
	// pooled: buf comes from stagingPool when there is something to write
	// and goes back at Release, so an idle connection holds none.
	pooled bool
	bufp   *[]byte // the pool's handle of buf
}

// vectorWriter writes segments as one stream, in one writev where it can.
type vectorWriter interface{ Writev(segs [][]byte) error }

// stagingPool holds the staging buffers of idle connections' writers.
var stagingPool = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBufSize)
	return &b
}}

// newPooledWriter is a Writer whose writeBufSize staging buffer is taken
// from a pool while it has something to write.
func newPooledWriter(w io.Writer) *Writer { return &Writer{w: w, pooled: true} }

// staging makes sure the staging buffer is there.
func (w *Writer) staging() {
	if w.buf == nil {
		w.bufp = stagingPool.Get().(*[]byte)
		w.buf = (*w.bufp)[:0]
	}
}

// Release gives the staging buffer back to the pool if nothing waits in it
// (a pooled Writer takes one again at its next write).
func (w *Writer) Release() {
	if !w.pooled || w.buf == nil || w.Buffered() > 0 || len(w.iov) > 0 {
		return
	}
	*w.bufp = w.buf[:0]
	stagingPool.Put(w.bufp)
	w.buf, w.bufp = nil, nil
}

// SetCipher makes every frame written from now on travel encrypted, as the
// MESSAGE command that c seals it into.
func (w *Writer) SetCipher(c FrameCipher) { w.cipher = c }

const (
	// gatherMin is the body size from which a frame is written by reference.
	// Below it a copy is cheaper than an extra iovec.
	gatherMin = 2 << 10
	// gatherMax bounds the body bytes held by reference before a flush, so a
	// batch of large messages goes out in writes of about this size.
	gatherMax = 256 << 10
	// gatherIOV bounds the iovecs of one write (Linux allows 1024).
	gatherIOV = 256
)

// NewWriter returns a Writer to w with a staging buffer of size bytes.
func NewWriter(w io.Writer, size int) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, max(size, 512))}
}

// Buffered is the number of bytes written but not yet flushed.
func (w *Writer) Buffered() int { return len(w.buf) + w.big }

// Flush writes everything buffered.
func (w *Writer) Flush() error {
	var err error
	if len(w.iov) == 0 {
		if len(w.buf) > 0 {
			_, err = w.w.Write(w.buf)
		}
	} else {
		if w.seg < len(w.buf) {
			w.iov = append(w.iov, w.buf[w.seg:])
		}
		// WriteTo consumes nb; iov keeps the slice to clear and reuse. nb is
		// a field so that passing its address costs no allocation.
		if v, ok := w.w.(vectorWriter); ok {
			err = v.Writev(w.iov)
		} else {
			w.nb = w.iov
			_, err = w.nb.WriteTo(w.w)
			w.nb = nil
		}
		clear(w.iov) // drop the references to the bodies
		w.iov = w.iov[:0]
	}
	w.buf, w.seg, w.big = w.buf[:0], 0, 0
	return err
}

// header appends a frame header to the staging buffer.
func (w *Writer) header(flags byte, size int) {
	if size > 255 {
		w.buf = append(w.buf, flags|flagLong)
		w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(size))
	} else {
		w.buf = append(w.buf, flags, byte(size))
	}
}

// reserve makes room for n staging bytes and two iovecs, flushing if need be.
func (w *Writer) reserve(n int) error {
	w.staging()
	if cap(w.buf)-len(w.buf) < n || len(w.iov)+2 > gatherIOV {
		return w.Flush()
	}
	return nil
}

// gather queues body by reference, after the staging bytes written so far.
func (w *Writer) gather(body []byte) error {
	w.iov = append(w.iov, w.buf[w.seg:len(w.buf):len(w.buf)], body)
	w.seg = len(w.buf)
	w.big += len(body)
	if w.big >= gatherMax {
		return w.Flush()
	}
	return nil
}

// frame writes one frame: header and body.
func (w *Writer) frame(flags byte, body []byte) error {
	if w.cipher != nil {
		return w.sealed(flags, body)
	}
	if len(body) >= gatherMin {
		if err := w.reserve(9); err != nil {
			return err
		}
		w.header(flags, len(body))
		return w.gather(body)
	}
	if err := w.reserve(9 + len(body)); err != nil {
		return err
	}
	w.header(flags, len(body))
	w.buf = append(w.buf, body...)
	return nil
}

// sealed writes frame as a MESSAGE, in a data frame of its own as libzmq
// does; the frame's own flags (more, command) go inside the box. The box is
// built in the staging buffer when it fits there, else in a buffer of its
// own that is queued by reference.
func (w *Writer) sealed(flags byte, frame []byte) error {
	n := w.cipher.SealedLen(len(frame))
	w.staging()
	if 9+n <= cap(w.buf) {
		if err := w.reserve(9 + n); err != nil {
			return err
		}
		w.header(0, n)
		w.buf = w.cipher.Seal(w.buf, flags, frame)
		return nil
	}
	if err := w.reserve(9); err != nil {
		return err
	}
	w.header(0, n)
	return w.gather(w.cipher.Seal(make([]byte, 0, n), flags, frame))
}

// WriteMsg writes every frame of m.
func (w *Writer) WriteMsg(m Msg) error {
	if len(m.Tail) == 0 {
		return w.frame(0, m.Head)
	}
	if err := w.frame(flagMore, m.Head); err != nil {
		return err
	}
	last := len(m.Tail) - 1
	for i, f := range m.Tail {
		var fl byte
		if i < last {
			fl = flagMore
		}
		if err := w.frame(fl, f); err != nil {
			return err
		}
	}
	return nil
}

// WriteCommand writes a command frame: name length, name, data.
func (w *Writer) WriteCommand(name string, data []byte) error {
	body := make([]byte, 0, 1+len(name)+len(data))
	body = append(body, byte(len(name)))
	body = append(body, name...)
	body = append(body, data...)
	return w.frame(flagCommand, body)
}
