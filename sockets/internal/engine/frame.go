package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
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

// Frames below bigFrame bytes are read through the decoder's read buffer
// and handed out aliasing it. A batch of messages the reader keeps stays
// there (Detach): the buffer is not written over again, the next read goes
// on after it, and once full the buffer is left to the messages in it and
// a new one taken; the garbage collector frees it with the last of them.
// So a stream of small messages is read with no copy at all. That holds
// while the kept messages are most of what the buffer took (at least half
// of the bytes read since the last batch, headers and commands counted):
// otherwise (a batch of a few messages among many commands, say) they are
// copied back to back into an arena that holds message bytes only, and the
// buffer is reused. Either way, what queued messages pin is at most about
// twice what they count. Frames of ownFrame bytes or more (and below
// bigFrame) do not count in that choice; when it is to copy, each of them
// is copied into memory of its own, so a stream of them reuses the buffer.
// At those sizes one allocation and one copy per frame cost less than a
// new read buffer every few frames: over tcp between two processes, with
// 10 KiB messages, the receiver's runtime spent a quarter of its time
// returning those buffers' pages to the OS and faulting them back in, and
// streams of 4 KiB and 10 KiB messages went 5 % and 9–15 % faster with the
// copy (2 KiB: no better; 1 KiB: 10 % slower). The buffer starts at minBuf
// bytes; while the peer keeps the connection full (a read fills all the
// room it was given) it doubles, up to maxBuf, so a stream is read in big
// reads; a connection that goes idle gets a small one again (Shrink).
// Frames of bigFrame bytes or more are read into buffers of their own,
// charged to the socket's Budget.
const (
	minBuf   = 4 << 10
	maxBuf   = 256 << 10
	bigFrame = 16 << 10
	// ownFrame: Detach copies a frame of at least this size (below
	// bigFrame) into memory of its own, and the read buffer is reused.
	ownFrame = 4 << 10
	// bigAlloc is the largest big frame allocated whole as soon as its
	// header arrives; a larger one is read in chunks of this size until
	// three quarters of it have arrived (the peer has shown that it
	// sends), then into one buffer of its exact size. Until then a
	// connection holds what it was sent (half-way through a 256 MiB frame,
	// 128 MiB, as libzmq), at the switch 1.75 times the frame for a
	// moment, then the frame: never the doubling buffer's 2× for good.
	bigAlloc = 256 << 10
	// arenaSize is the size of the arenas received messages are copied to
	// (see Decoder.arena).
	arenaSize = 64 << 10
	// ProgressStep: a message in progress must bring this many more bytes,
	// or its end, within the progress timeout (see conn.read).
	ProgressStep = 64 << 10
)

// ErrBudget reports a large frame that would take the socket's budget for
// frames in progress past its bound.
var ErrBudget = errors.New("large frames in progress exceed the socket's budget")

// Budget bounds the bytes that the large frames still arriving hold,
// across every connection of a socket. Its zero value (or nil) has no bound.
type Budget struct {
	Limit int64
	used  atomic.Int64
}

// Used is what frames in progress hold now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

func (b *Budget) take(n int64) error {
	if b == nil || b.Limit <= 0 {
		return nil
	}
	if b.used.Add(n) > b.Limit {
		b.used.Add(-n)
		return fmt.Errorf("%w: %d more bytes over %d", ErrBudget, n, b.Limit)
	}
	return nil
}

func (b *Budget) give(n int64) {
	if b != nil && b.Limit > 0 && n > 0 {
		b.used.Add(-n)
	}
}

// Decoder reads ZMTP frames from a stream.
type Decoder struct {
	r          io.Reader
	buf        []byte
	rpos, wpos int
	grow       bool // a read filled its room: the next buffer is bigger
	// held: frames handed out since the last Detach or Release alias buf,
	// which must then not be written over.
	held bool
	// pinned: messages that Detach left in place alias buf: it is never
	// written over again (reading goes on after them, then in a new one).
	pinned bool
	// MaxMsgSize is the largest message payload accepted, in bytes; <= 0 means
	// no limit (then a big frame's memory still grows only as its bytes arrive).
	MaxMsgSize int64
	// Encrypted says every frame comes sealed in a MESSAGE (CURVE), in a
	// data or command frame: both are bounded by MaxMsgSize plus the seal,
	// commands not by maxCommand.
	Encrypted bool
	// Budget, if set, is charged for large frames while they arrive.
	Budget *Budget

	// arena is where Detach copies batches to, one after the other, so
	// that a stream of small messages costs an allocation per arenaSize
	// bytes, not per batch. An arena holds message bytes only, and queues
	// hand messages out in order: what it pins beyond the messages still
	// queued is at most the part of one arena already taken.
	arena []byte
	// used is what frames read through the buffer since the last Detach
	// or Release took of it, headers included: Detach leaves a batch in
	// place only when it keeps at least half of that.
	used int

	total   int64 // bytes read from r so far
	reading bool  // inside ReadMsg
	started bool  // a frame header of the message being read was taken
}

// NewDecoder reads frames from r.
func NewDecoder(r io.Reader, maxMsgSize int64) *Decoder {
	return &Decoder{r: r, buf: make([]byte, minBuf), MaxMsgSize: maxMsgSize}
}

// ErrIdle may be returned by the decoder's reader when it has waited a
// while with nothing to read: the decoder then gives up a big read buffer
// for a small one, if nothing is pending, and reads again.
var ErrIdle = errors.New("idle")

// Total is the number of bytes read from the stream so far.
func (d *Decoder) Total() int64 { return d.total }

// InMsg reports whether part of a message has arrived and the rest is
// awaited: the peer owes us bytes, not just its next message.
func (d *Decoder) InMsg() bool { return d.reading && (d.started || d.wpos > d.rpos) }

// Shrinkable reports whether an idle wait may swap the read buffer for a
// small one: nothing is buffered, and the buffer is big or left to the
// messages in it.
func (d *Decoder) Shrinkable() bool {
	return d.wpos == d.rpos && (len(d.buf) > minBuf || d.held || d.pinned)
}

// BufSize is the size of the read buffer.
func (d *Decoder) BufSize() int { return len(d.buf) }

// makeRoom gives the buffer room for n bytes from rpos and a useful read:
// in place when nothing handed out aliases it, else in a new buffer (the
// old one lives on with the frames in it until they are detached).
func (d *Decoder) makeRoom(n int) {
	size := len(d.buf)
	if d.grow {
		size = min(2*size, maxBuf)
		d.grow = false
	}
	size = max(size, n)
	if !d.held && !d.pinned && size <= len(d.buf) {
		d.wpos = copy(d.buf, d.buf[d.rpos:d.wpos])
		d.rpos = 0
		return
	}
	nb := make([]byte, size)
	d.wpos = copy(nb, d.buf[d.rpos:d.wpos])
	d.buf, d.rpos, d.held, d.pinned = nb, 0, false, false
}

// fill makes at least n bytes available at d.buf[d.rpos:].
func (d *Decoder) fill(n int) error {
	if d.wpos-d.rpos >= n {
		return nil
	}
	// Room when the frame does not fit, or when so little is left that the
	// read would be a small one: every read gets at least an eighth of the
	// buffer.
	if len(d.buf)-d.rpos < n || len(d.buf)-d.wpos < len(d.buf)/8 {
		d.makeRoom(n)
	}
	for d.wpos-d.rpos < n {
		room := len(d.buf) - d.wpos
		m, err := d.r.Read(d.buf[d.wpos:])
		d.wpos += m
		d.total += int64(m)
		if m == room && len(d.buf) < maxBuf {
			d.grow = true
		}
		if err != nil {
			if d.wpos-d.rpos >= n {
				return nil
			}
			if err == ErrIdle {
				d.shrink()
				continue
			}
			if err == io.EOF && d.wpos-d.rpos > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// shrink swaps a big, empty read buffer for a small one, and lets go of
// the arena (its messages keep it while they live).
func (d *Decoder) shrink() {
	if d.Shrinkable() {
		d.buf, d.rpos, d.wpos, d.grow = make([]byte, minBuf), 0, 0, false
		d.held, d.pinned = false, false
		d.arena = nil
	}
}

// Detach makes ms, the batch of messages kept from the ReadMsg calls since
// the last Detach, safe to keep while reading goes on. When they are at
// least half of what those calls took of the read buffer, they stay where
// they are and the buffer is never written over again; else their frames
// are copied into the arena, back to back, and the buffer is reused. Call
// it on every batch kept, before the next ReadMsg; without it the decoder
// never writes over frames it handed out (it takes a new buffer instead).
func (d *Decoder) Detach(ms []Msg) {
	if !d.held {
		return
	}
	small := 0 // bytes of the frames below ownFrame
	for i := range ms {
		small += smallBytes(ms[i].Head)
		for _, f := range ms[i].Tail {
			small += smallBytes(f)
		}
	}
	if 2*small >= d.used {
		d.held, d.pinned, d.used = false, true, 0 // kept in place
		return
	}
	if small > 0 && len(d.arena) < small {
		d.arena = make([]byte, max(arenaSize, small))
	}
	move := func(f []byte) []byte {
		switch n := len(f); {
		case n == 0 || n >= bigFrame:
			return f // not in the buffer
		case n >= ownFrame:
			c := make([]byte, n)
			copy(c, f)
			return c
		default:
			c := d.arena[:n:n]
			copy(c, f)
			d.arena = d.arena[n:]
			return c
		}
	}
	for i := range ms {
		ms[i].Head = move(ms[i].Head)
		for j, f := range ms[i].Tail {
			ms[i].Tail[j] = move(f)
		}
	}
	d.Release()
}

// smallBytes is the length of a frame read through the buffer that Detach
// leaves in place or copies into the arena (below ownFrame), else 0.
func smallBytes(f []byte) int {
	if len(f) >= ownFrame {
		return 0
	}
	return len(f)
}

// Release says that no frame handed out so far is in use any more (they
// were copied, or dropped): the read buffer may be written over.
func (d *Decoder) Release() {
	d.held, d.used = false, 0
	if d.rpos == d.wpos && !d.pinned {
		d.rpos, d.wpos = 0, 0
	}
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
		d.used += 2
	} else {
		if err = d.fill(9); err != nil {
			return 0, nil, err
		}
		size = binary.BigEndian.Uint64(d.buf[d.rpos+1:])
		d.rpos += 9
		d.used += 9
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
	d.started = true
	if size == 0 {
		// Not a slice of the buffer: an empty frame pins no memory.
		return flags, []byte{}, nil
	}
	if size < bigFrame {
		n := int(size)
		if err = d.fill(n); err != nil {
			return 0, nil, err
		}
		body = d.buf[d.rpos : d.rpos+n : d.rpos+n]
		d.rpos += n
		d.used += n
		d.held = true
		return flags, body, nil
	}
	body, err = d.readBig(int64(size))
	return flags, body, err
}

// readBig reads a frame of at least bigFrame bytes into memory of its own,
// taken as its bytes arrive (see bigAlloc) and charged to the budget until
// the frame is whole.
func (d *Decoder) readBig(size int64) (body []byte, err error) {
	var charged int64
	defer func() { d.Budget.give(charged) }()
	take := func(n int64) error {
		if err := d.Budget.take(n); err != nil {
			return err
		}
		charged += n
		return nil
	}
	var got int64
	if size > bigAlloc {
		var chunks [][]byte
		for got < size/4*3 && size-got > bigAlloc {
			n := min(int64(bigAlloc), size-got)
			if err := take(n); err != nil {
				return nil, err
			}
			c := make([]byte, n)
			if err := d.readInto(c); err != nil {
				return nil, err
			}
			chunks = append(chunks, c)
			got += n
		}
		if err := take(size); err != nil {
			return nil, err
		}
		body = make([]byte, size)
		off := 0
		for _, c := range chunks {
			off += copy(body[off:], c)
		}
		clear(chunks)
	} else {
		if err := take(size); err != nil {
			return nil, err
		}
		body = make([]byte, size)
	}
	if err := d.readInto(body[got:]); err != nil {
		return nil, err
	}
	return body, nil
}

// readInto fills p with the stream's next bytes: what is buffered first,
// then reads straight into p.
func (d *Decoder) readInto(p []byte) error {
	got := copy(p, d.buf[d.rpos:d.wpos])
	d.rpos += got
	for got < len(p) {
		m, err := d.r.Read(p[got:])
		got += m
		d.total += int64(m)
		if err != nil && got < len(p) {
			switch err {
			case ErrIdle:
				continue
			case io.EOF:
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// ReadMsg reads the next message, or the next command (cmd is then true and
// m.Head is the command frame).
func (d *Decoder) ReadMsg() (m Msg, cmd bool, err error) {
	d.reading, d.started = true, false
	defer func() { d.reading, d.started = false, false }()
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
