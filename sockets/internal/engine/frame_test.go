package engine

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encode(t testing.TB, msgs ...Msg) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf, 4096)
	for _, m := range msgs {
		require.NoError(t, w.WriteMsg(m))
	}
	require.NoError(t, w.Flush())
	return buf.Bytes()
}

func TestFrameRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("z"), 3*bigAlloc+17)
	msgs := []Msg{
		{Head: []byte("one")},
		{Head: []byte{}},
		{Head: []byte("a"), Tail: [][]byte{{}, []byte("c"), bytes.Repeat([]byte("m"), 300)}},
		{Head: big},
	}
	// Read through a reader that hands out a few bytes at a time, so frames
	// straddle every chunk boundary.
	d := NewDecoder(iotestHalf{bytes.NewReader(encode(t, msgs...))}, 0)
	for _, want := range msgs {
		got, cmd, err := d.ReadMsg()
		require.NoError(t, err)
		assert.False(t, cmd)
		assert.Equal(t, want.Frames(), got.Frames())
	}
	_, _, err := d.ReadMsg()
	assert.ErrorIs(t, err, io.EOF)
}

type iotestHalf struct{ r io.Reader }

func (h iotestHalf) Read(p []byte) (int, error) {
	if len(p) > 7 {
		p = p[:7]
	}
	return h.r.Read(p)
}

func TestDecoderLimits(t *testing.T) {
	huge := []byte{flagLong, 0x40, 0, 0, 0, 0, 0, 0, 0} // 2^62 bytes announced
	_, _, err := NewDecoder(bytes.NewReader(huge), 1<<20).ReadMsg()
	assert.ErrorIs(t, err, ErrTooLarge)

	multi := encode(t, Msg{Head: make([]byte, 600), Tail: [][]byte{make([]byte, 600)}})
	_, _, err = NewDecoder(bytes.NewReader(multi), 1000).ReadMsg()
	assert.ErrorIs(t, err, ErrTooLarge, "the limit counts every frame of a message")

	_, _, err = NewDecoder(bytes.NewReader([]byte{0x80, 0}), 0).ReadMsg()
	assert.ErrorIs(t, err, ErrBadFlags)

	_, _, err = NewDecoder(bytes.NewReader([]byte{flagCommand | flagMore, 0}), 0).ReadMsg()
	assert.ErrorIs(t, err, ErrBadFlags)

	_, _, err = NewDecoder(bytes.NewReader([]byte{0, 5, 'a'}), 0).ReadMsg()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestUnlimitedBigFrameGrowsWithData(t *testing.T) {
	// 1 GiB announced, 10 bytes sent: the decoder must fail on EOF having
	// taken memory only for what arrived (its first step), not 1 GiB.
	hdr := []byte{flagLong, 0, 0, 0, 0, 0x40, 0, 0, 0}
	_, _, err := NewDecoder(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(make([]byte, 10))), 0).ReadMsg()
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
}

func FuzzDecoder(f *testing.F) {
	f.Add(encode(f, Msg{Head: []byte("hello")}, Msg{Head: []byte("a"), Tail: [][]byte{{}, []byte("b")}}))
	f.Add([]byte{flagCommand, 5, 4, 'P', 'I', 'N', 'G'})
	f.Add([]byte{flagLong, 0x40, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{flagMore, 1, 'x', flagCommand, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data), 1<<16)
		for i := 0; i < 1000; i++ {
			m, cmd, err := d.ReadMsg()
			if err != nil {
				return
			}
			if cmd {
				_, _, _ = ParseCommand(m.Head)
			}
		}
	})
}

// fullReader always has more of a stream of frames than the room it is given.
type fullReader struct {
	frame []byte
	off   int
	short bool // then hand out 7 bytes a read, like a quiet connection
}

func (f *fullReader) Read(p []byte) (int, error) {
	if f.short && len(p) > 7 {
		p = p[:7]
	}
	for i := range p {
		p[i] = f.frame[f.off]
		f.off = (f.off + 1) % len(f.frame)
	}
	return len(p), nil
}

func TestDecoderBufferGrowsUnderLoadAndShrinksWhenIdle(t *testing.T) {
	frame := encode(t, Msg{Head: make([]byte, 1022)}) // 1024 bytes on the wire
	r := &fullReader{frame: frame}
	d := NewDecoder(r, 0)
	assert.Equal(t, minBuf, d.BufSize(), "a new connection starts small")
	batch := make([]Msg, 1)
	for range 2000 {
		m, _, err := d.ReadMsg()
		require.NoError(t, err)
		batch[0] = m
		d.Detach(batch)
	}
	assert.Equal(t, maxBuf, d.BufSize(), "a connection that fills every read gets the biggest buffer")

	// An idle wait (the reader's ErrIdle) at a message boundary gives the
	// big buffer up.
	idle := &idleOnce{r: bytes.NewReader(frame)}
	d.r = idle
	d.rpos, d.wpos = 0, 0 // everything read: at a message boundary
	_, _, err := d.ReadMsg()
	require.NoError(t, err)
	assert.True(t, idle.done)
	assert.Equal(t, minBuf, d.BufSize(), "idle: back to a small buffer")
}

// idleOnce reports ErrIdle once, then reads from r.
type idleOnce struct {
	r    io.Reader
	done bool
}

func (i *idleOnce) Read(p []byte) (int, error) {
	if !i.done {
		i.done = true
		return 0, ErrIdle
	}
	return i.r.Read(p)
}

func TestDecoderDetachOwnsMemory(t *testing.T) {
	// Detached messages do not alias the read buffer: reading on, which
	// reuses it, leaves them as they were; empty frames pin nothing.
	var msgs []Msg
	for i := range 50 {
		msgs = append(msgs, Msg{Head: bytes.Repeat([]byte{byte(i)}, 100), Tail: [][]byte{{}, []byte("x")}})
	}
	d := NewDecoder(bytes.NewReader(encode(t, msgs...)), 0)
	var got []Msg
	for range msgs {
		m, _, err := d.ReadMsg()
		require.NoError(t, err)
		one := []Msg{m}
		d.Detach(one)
		got = append(got, one[0])
	}
	for i := range msgs {
		require.Equal(t, msgs[i].Frames(), got[i].Frames(), "message %d", i)
		assert.Zero(t, cap(got[i].Tail[0]), "empty frame")
	}
}

func TestDecoderBigFrameChargesBudget(t *testing.T) {
	big := encode(t, Msg{Head: bytes.Repeat([]byte("b"), 3*bigAlloc)})
	b := &Budget{Limit: 5 * bigAlloc} // two chunks, then the whole: 2 + 3
	d := NewDecoder(bytes.NewReader(big), 0)
	d.Budget = b
	m, _, err := d.ReadMsg()
	require.NoError(t, err)
	assert.Len(t, m.Head, 3*bigAlloc)
	assert.Zero(t, b.Used(), "a whole frame gives its charge back")

	// Two peers half-way through a big frame each: the second one over
	// the budget costs its connection.
	b = &Budget{Limit: bigAlloc + bigAlloc/2}
	d = NewDecoder(io.MultiReader(bytes.NewReader(big[:bigAlloc+9]), blockingEOF{}), 0)
	d.Budget = b
	_, _, err = d.ReadMsg()
	require.ErrorIs(t, err, ErrBudget, "the second chunk passes the budget")
	assert.Zero(t, b.Used())
}

type blockingEOF struct{}

func (blockingEOF) Read([]byte) (int, error) { return 0, io.EOF }

// chunks hands out one chunk a read, as a connection would as bytes arrive.
type chunks [][]byte

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	if n == len((*c)[0]) {
		*c = (*c)[1:]
	} else {
		(*c)[0] = (*c)[0][n:]
	}
	return n, nil
}

func TestDecoderKeptInPlaceIsNeverWrittenOver(t *testing.T) {
	// A message kept in place (most of what the buffer took) pins the
	// buffer: a later batch that is copied out (a few bytes among many
	// commands) must not let the buffer be reused under it.
	first := encode(t, Msg{Head: bytes.Repeat([]byte("A"), 200)})
	var pings bytes.Buffer
	w := NewWriter(&pings, 4096)
	for range 40 {
		require.NoError(t, w.WriteCommand("PING", []byte{0, 0, 'c', 't', 'x', '!'}))
	}
	require.NoError(t, w.WriteMsg(Msg{Head: []byte("b")}))
	require.NoError(t, w.Flush())
	last := encode(t, Msg{Head: bytes.Repeat([]byte("Z"), 200)})
	src := chunks{first, pings.Bytes(), last}
	d := NewDecoder(&src, 0)

	m, cmd, err := d.ReadMsg()
	require.NoError(t, err)
	require.False(t, cmd)
	kept := []Msg{m}
	d.Detach(kept) // all the buffer took: kept in place

	var few []Msg
	for {
		m, cmd, err := d.ReadMsg()
		require.NoError(t, err)
		if !cmd {
			few = append(few, m)
			break
		}
	}
	d.Detach(few) // one byte among 40 commands: copied out
	require.Equal(t, []byte("b"), few[0].Head)

	m, _, err = d.ReadMsg()
	require.NoError(t, err)
	assert.Equal(t, bytes.Repeat([]byte("Z"), 200), m.Head)
	assert.Equal(t, bytes.Repeat([]byte("A"), 200), kept[0].Head, "the message kept in place was written over")
}

func TestDecoderOwnFramesAreCopiedAndTheBufferReused(t *testing.T) {
	// Frames of ownFrame bytes or more get memory of their own at Detach,
	// so the read buffer is reused (not pinned, not replaced but to grow),
	// and what was detached survives the reads that write over it.
	var msgs []Msg
	for i := range 1000 {
		msgs = append(msgs, Msg{Head: bytes.Repeat([]byte{byte(i)}, ownFrame+i%7), Tail: [][]byte{[]byte("env")}})
	}
	d := NewDecoder(bytes.NewReader(encode(t, msgs...)), 0)
	var got []Msg
	bufs := map[*byte]bool{}
	for i := range msgs {
		m, _, err := d.ReadMsg()
		require.NoError(t, err)
		one := []Msg{m}
		d.Detach(one)
		require.False(t, d.pinned || d.held, "message %d: the buffer is left to it", i)
		require.Equal(t, len(one[0].Head), cap(one[0].Head), "message %d: memory of its own", i)
		bufs[&d.buf[0]] = true
		got = append(got, one[0])
	}
	// minBuf doubling up to maxBuf is 7 buffers; 4 MB read through pinned
	// buffers of maxBuf would take 16 more.
	assert.LessOrEqual(t, len(bufs), 7, "read buffers taken")
	for i := range msgs {
		require.Equal(t, msgs[i].Frames(), got[i].Frames(), "message %d", i)
	}
}
