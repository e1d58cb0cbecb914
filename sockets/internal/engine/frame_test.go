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
	big := bytes.Repeat([]byte("z"), 3*maxChunk+17)
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

func TestDecoderChunksGrowUnderLoadAndShrinkWhenQuiet(t *testing.T) {
	frame := encode(t, Msg{Head: make([]byte, 1022)}) // 1024 bytes on the wire
	r := &fullReader{frame: frame}
	d := NewDecoder(r, 0)
	for range 2000 {
		_, _, err := d.ReadMsg()
		require.NoError(t, err)
	}
	assert.Equal(t, maxChunk, d.chunk, "a connection that fills every read gets the biggest chunks")

	r.short = true
	for range 600 {
		_, _, err := d.ReadMsg()
		require.NoError(t, err)
	}
	assert.Equal(t, minChunk, d.chunk, "short reads bring the chunk size back down")
}
