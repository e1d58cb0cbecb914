package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ZMTP 3.x frame flags (RFC 23 and 37).
const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

// Errors the decoder reports; each one ends the connection.
var (
	ErrTooLarge       = errors.New("message larger than the maximum message size")
	ErrTooManyFrames  = errors.New("message has too many frames")
	ErrBadFlags       = errors.New("malformed frame flags")
	ErrCommandTooLong = errors.New("command frame too long")
)

// MaxFrames bounds the frame count of one message, so that a flood of empty
// frames cannot grow a message without bound.
const MaxFrames = 1 << 16

// sealOverhead is what a MESSAGE adds to the frame it carries: the name, a
// nonce, the box's MAC and the flags byte.
const sealOverhead = 8 + 8 + 16 + 1

// maxCommand bounds a command frame (PING context, SUBSCRIBE topic, …).
const maxCommand = 1 << 20

// Frames up to bigFrame bytes are sliced from shared read buffers, chunks,
// and handed out aliasing them, so a chunk is never reused: a new one is
// taken when it is used up and the old one lives as long as a frame in it
// does. Chunks start at minChunk bytes. While the peer keeps the connection
// full (a read fills all the room it was given) each next chunk is twice as
// big, up to maxChunk, so a stream is read in big reads; when reads come back
// short the size falls back, so a quiet connection's few messages pin little
// memory.
const (
	minChunk = 64 << 10
	maxChunk = 256 << 10
	bigFrame = 16 << 10
)

// Decoder reads ZMTP frames from a stream.
type Decoder struct {
	r          io.Reader
	buf        []byte
	rpos, wpos int
	chunk      int // size of the next chunk
	// MaxMsgSize is the largest message payload accepted, in bytes; <= 0 means
	// no limit (then a big frame's memory still grows only as its bytes arrive).
	MaxMsgSize int64
	// Encrypted says every frame comes sealed in a MESSAGE (CURVE), in a
	// data or command frame: both are bounded by MaxMsgSize plus the seal,
	// commands not by maxCommand.
	Encrypted bool
}

// NewDecoder reads frames from r.
func NewDecoder(r io.Reader, maxMsgSize int64) *Decoder {
	return &Decoder{r: r, buf: make([]byte, minChunk), chunk: minChunk, MaxMsgSize: maxMsgSize}
}

// fill makes at least n bytes available at d.buf[d.rpos:].
func (d *Decoder) fill(n int) error {
	if d.wpos-d.rpos >= n {
		return nil
	}
	// A new chunk when the frame does not fit, or when so little room is left
	// that the read would be a small one: every read syscall gets at least an
	// eighth of a chunk of room.
	if len(d.buf)-d.rpos < n || len(d.buf)-d.wpos < d.chunk/8 {
		nb := make([]byte, max(d.chunk, n))
		d.wpos = copy(nb, d.buf[d.rpos:d.wpos])
		d.buf, d.rpos = nb, 0
	}
	for d.wpos-d.rpos < n {
		room := len(d.buf) - d.wpos
		m, err := d.r.Read(d.buf[d.wpos:])
		d.wpos += m
		switch {
		case m == room:
			d.chunk = min(2*d.chunk, maxChunk)
		case m < room/2:
			d.chunk = max(d.chunk/2, minChunk)
		}
		if err != nil {
			if d.wpos-d.rpos >= n {
				return nil
			}
			if err == io.EOF && d.wpos-d.rpos > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// MsgBuffered reports whether a whole message (or command) is already in
// the buffer, so that ReadMsg will return it without reading: the reader
// uses it to take every message a read brought in one batch.
func (d *Decoder) MsgBuffered() bool {
	pos := d.rpos
	for {
		if d.wpos-pos < 2 {
			return false
		}
		flags := d.buf[pos]
		var size uint64
		if flags&flagLong == 0 {
			size = uint64(d.buf[pos+1])
			pos += 2
		} else {
			if d.wpos-pos < 9 {
				return false
			}
			size = binary.BigEndian.Uint64(d.buf[pos+1:])
			pos += 9
		}
		if size >= bigFrame || size > uint64(d.wpos-pos) {
			return false
		}
		pos += int(size)
		if flags&flagMore == 0 || flags&flagCommand != 0 {
			return true
		}
	}
}

// readFrame reads one frame; limit is how many payload bytes it may carry.
func (d *Decoder) readFrame(limit int64) (flags byte, body []byte, err error) {
	if err = d.fill(2); err != nil {
		return 0, nil, err
	}
	flags = d.buf[d.rpos]
	if flags&^(flagMore|flagLong|flagCommand) != 0 {
		return 0, nil, fmt.Errorf("%w: 0x%02x", ErrBadFlags, flags)
	}
	var size uint64
	if flags&flagLong == 0 {
		size = uint64(d.buf[d.rpos+1])
		d.rpos += 2
	} else {
		if err = d.fill(9); err != nil {
			return 0, nil, err
		}
		size = binary.BigEndian.Uint64(d.buf[d.rpos+1:])
		d.rpos += 9
	}
	if flags&flagCommand != 0 {
		if flags&flagMore != 0 {
			return 0, nil, fmt.Errorf("%w: command with MORE set", ErrBadFlags)
		}
		switch {
		case !d.Encrypted && size > maxCommand:
			return 0, nil, fmt.Errorf("%w: %d bytes", ErrCommandTooLong, size)
		case d.Encrypted && limit >= 0 && size > uint64(limit):
			return 0, nil, fmt.Errorf("%w: encrypted frame of %d bytes", ErrTooLarge, size)
		}
	} else if limit >= 0 && size > uint64(limit) {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, size)
	}
	if size > 1<<62 {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, size)
	}
	if size < bigFrame {
		n := int(size)
		if err = d.fill(n); err != nil {
			return 0, nil, err
		}
		body = d.buf[d.rpos : d.rpos+n : d.rpos+n]
		d.rpos += n
		return flags, body, nil
	}
	body, err = d.readBig(int64(size))
	return flags, body, err
}

// readBig reads a frame into a buffer of its own that grows as the bytes
// arrive, so an announced size costs memory only once it is really sent.
func (d *Decoder) readBig(size int64) ([]byte, error) {
	const step = 4 << 20
	first := size
	if first > step {
		first = step
	}
	body := make([]byte, first)
	got := copy(body, d.buf[d.rpos:d.wpos])
	d.rpos += got
	for int64(got) < size {
		if got == len(body) {
			next := int64(2 * len(body))
			if next > size {
				next = size
			}
			nb := make([]byte, next)
			copy(nb, body)
			body = nb
		}
		m, err := d.r.Read(body[got:])
		got += m
		if err != nil && int64(got) < size {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return body, nil
}

// ReadMsg reads the next message, or the next command (cmd is then true and
// m.Head is the command frame).
func (d *Decoder) ReadMsg() (m Msg, cmd bool, err error) {
	limit := d.MaxMsgSize
	switch {
	case limit <= 0:
		limit = -1
	case d.Encrypted:
		limit += sealOverhead // each frame comes sealed on its own
	}
	flags, body, err := d.readFrame(limit)
	if err != nil {
		return Msg{}, false, err
	}
	if flags&flagCommand != 0 {
		return Msg{Head: body}, true, nil
	}
	m.Head = body
	if limit >= 0 {
		limit -= int64(len(body))
	}
	for flags&flagMore != 0 {
		if len(m.Tail)+1 >= MaxFrames {
			return Msg{}, false, fmt.Errorf("%w: more than %d", ErrTooManyFrames, MaxFrames)
		}
		flags, body, err = d.readFrame(limit)
		if err != nil {
			return Msg{}, false, err
		}
		if flags&flagCommand != 0 {
			return Msg{}, false, fmt.Errorf("%w: command inside a multipart message", ErrBadFlags)
		}
		if limit >= 0 {
			limit -= int64(len(body))
		}
		m.Tail = append(m.Tail, body)
	}
	return m, false, nil
}

// ParseCommand splits a command frame into its name and data.
func ParseCommand(frame []byte) (name string, data []byte, err error) {
	if len(frame) == 0 || int(frame[0]) > len(frame)-1 {
		return "", nil, fmt.Errorf("%w: malformed command", ErrBadFlags)
	}
	n := int(frame[0])
	return string(frame[1 : 1+n]), frame[1+n:], nil
}
