// Package engine moves messages between a socket and its peers: one pipe per
// peer (a bounded queue each way), and for stream transports the goroutines
// that frame those queues onto a connection with ZMTP 3.x.
package engine

// Msg is one multipart message as it travels through a pipe. The first frame
// is kept apart from the rest so that a single-frame message, by far the
// common case, costs no slice allocation on its way through the queues.
//
// Msg is six words on purpose: with a context and a receiver it still
// travels in registers. Where a message came from is kept beside it, in
// the queue (Queue.SetSource), not in it.
type Msg struct {
	Head []byte   // first frame (possibly empty)
	Tail [][]byte // further frames; nil for a single-frame message
}

// MsgOf builds a Msg from frames. frames itself is not retained.
func MsgOf(frames [][]byte) Msg {
	switch len(frames) {
	case 0:
		return Msg{Head: []byte{}}
	case 1:
		return Msg{Head: frames[0]}
	}
	tail := make([][]byte, len(frames)-1)
	copy(tail, frames[1:])
	return Msg{Head: frames[0], Tail: tail}
}

// Len is the number of frames.
func (m Msg) Len() int { return 1 + len(m.Tail) }

// Frame returns frame i.
func (m Msg) Frame(i int) []byte {
	if i == 0 {
		return m.Head
	}
	return m.Tail[i-1]
}

// Size is the total payload size in bytes.
func (m Msg) Size() int {
	n := len(m.Head)
	for _, f := range m.Tail {
		n += len(f)
	}
	return n
}

// Frames returns the message as a fresh slice of frames (one allocation).
func (m Msg) Frames() [][]byte {
	out := make([][]byte, 0, 1+len(m.Tail))
	out = append(out, m.Head)
	return append(out, m.Tail...)
}

// Pop removes the first frame.
func (m Msg) Pop() Msg {
	if len(m.Tail) == 0 {
		return Msg{Head: []byte{}}
	}
	return Msg{Head: m.Tail[0], Tail: m.Tail[1:len(m.Tail):len(m.Tail)]}
}

// Clone copies m's frames into memory of their own: one allocation for the
// bytes, one more for a multipart message's tail.
func (m Msg) Clone() Msg {
	if len(m.Tail) == 0 {
		return Msg{Head: append(make([]byte, 0, len(m.Head)), m.Head...)}
	}
	buf := make([]byte, 0, m.Size())
	buf = append(buf, m.Head...)
	c := Msg{Head: buf[:len(buf):len(buf)], Tail: make([][]byte, len(m.Tail))}
	for i, f := range m.Tail {
		at := len(buf)
		buf = append(buf, f...)
		c.Tail[i] = buf[at:len(buf):len(buf)]
	}
	return c
}

// Prepend returns the message with frame f in front (allocates the tail).
func (m Msg) Prepend(f []byte) Msg {
	tail := make([][]byte, 0, 1+len(m.Tail))
	tail = append(tail, m.Head)
	tail = append(tail, m.Tail...)
	return Msg{Head: f, Tail: tail}
}
