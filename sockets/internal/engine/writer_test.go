package engine

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mixedMsgs interleaves frames below and above gatherMin, single and
// multipart, enough of them to pass gatherIOV and gatherMax several times.
func mixedMsgs() []Msg {
	sizes := []int{0, 1, 255, 256, gatherMin - 1, gatherMin, 10 << 10, 100 << 10}
	var msgs []Msg
	for i := 0; i < 600; i++ {
		body := func(k int) []byte {
			b := make([]byte, sizes[(i+k)%len(sizes)])
			for j := range b {
				b[j] = byte(i + k + j)
			}
			return b
		}
		m := Msg{Head: body(0)}
		if i%3 == 0 {
			m.Tail = [][]byte{body(1), body(2)}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestWriterGathersOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	msgs := mixedMsgs()
	errc := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		w := NewWriter(c, 64<<10)
		for i, m := range msgs {
			if err := w.WriteMsg(m); err != nil {
				errc <- err
				return
			}
			if i%50 == 49 {
				if err := w.Flush(); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- w.Flush()
	}()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	d := NewDecoder(s, 0)
	for i, want := range msgs {
		got, cmd, err := d.ReadMsg()
		require.NoError(t, err, "message %d", i)
		require.False(t, cmd)
		require.Equal(t, want.Frames(), got.Frames(), "message %d", i)
	}
	require.NoError(t, <-errc)
}

func TestWriterBuffered(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 4096)
	require.NoError(t, w.WriteMsg(Msg{Head: []byte("abc")}))
	assert.Equal(t, 5, w.Buffered())
	require.NoError(t, w.WriteMsg(Msg{Head: make([]byte, gatherMin)}))
	assert.Equal(t, 5+9+gatherMin, w.Buffered())
	assert.Zero(t, buf.Len(), "nothing is written before Flush")
	require.NoError(t, w.Flush())
	assert.Zero(t, w.Buffered())
	assert.Equal(t, 5+9+gatherMin, buf.Len())
	// A frame bigger than the staging buffer goes out by reference.
	require.NoError(t, w.WriteMsg(Msg{Head: make([]byte, 8192)}))
	require.NoError(t, w.Flush())
	assert.Equal(t, 5+9+gatherMin+9+8192, buf.Len())
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrClosedPipe
	}
	f.n--
	return len(p), nil
}

func TestWriterReportsWriteErrors(t *testing.T) {
	for _, size := range []int{10, 10 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			w := NewWriter(&failWriter{n: 1}, 4096)
			var err error
			for i := 0; i < 1000 && err == nil; i++ {
				err = w.WriteMsg(Msg{Head: make([]byte, size)})
			}
			if err == nil {
				err = w.Flush()
			}
			assert.ErrorIs(t, err, io.ErrClosedPipe)
		})
	}
}

func TestWriterNoAllocations(t *testing.T) {
	w := NewWriter(io.Discard, 64<<10)
	small, large := Msg{Head: make([]byte, 100)}, Msg{Head: make([]byte, 10<<10)}
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 20; i++ {
			_ = w.WriteMsg(small)
			_ = w.WriteMsg(large)
		}
		_ = w.Flush()
	})
	assert.Zero(t, allocs)
}

// FuzzWriterRoundTrip: whatever mix of frame sizes, flush points and staging
// sizes, the decoder reads back exactly the messages written.
func FuzzWriterRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, uint16(4096))
	f.Add([]byte{200, 9, 255, 7, 0, 0, 1}, uint16(512))
	f.Add([]byte{255, 255, 255, 255, 255, 255}, uint16(600))
	f.Fuzz(func(t *testing.T, plan []byte, staging uint16) {
		if len(plan) > 64 {
			plan = plan[:64]
		}
		// Each byte plans one frame: its low 6 bits scale the size (up to
		// ~4 × gatherMin), bit 6 ends the message, bit 7 flushes after it.
		var msgs []Msg
		var cur [][]byte
		var flushAt []int
		for i, b := range plan {
			size := int(b&0x3f) * gatherMin / 16
			body := make([]byte, size)
			if size > 0 {
				body[0], body[size-1] = byte(i), byte(i>>8)
			}
			cur = append(cur, body)
			if b&0x40 != 0 || i == len(plan)-1 {
				msgs = append(msgs, MsgOf(cur))
				cur = nil
				if b&0x80 != 0 {
					flushAt = append(flushAt, len(msgs)-1)
				}
			}
		}
		var buf bytes.Buffer
		w := NewWriter(&buf, int(staging))
		for i, m := range msgs {
			require.NoError(t, w.WriteMsg(m))
			if len(flushAt) > 0 && flushAt[0] == i {
				flushAt = flushAt[1:]
				require.NoError(t, w.Flush())
			}
		}
		require.NoError(t, w.Flush())
		require.Zero(t, w.Buffered())
		d := NewDecoder(bytes.NewReader(buf.Bytes()), 0)
		for i, want := range msgs {
			got, cmd, err := d.ReadMsg()
			require.NoError(t, err, "message %d", i)
			require.False(t, cmd)
			require.Equal(t, want.Frames(), got.Frames(), "message %d", i)
		}
		_, _, err := d.ReadMsg()
		require.ErrorIs(t, err, io.EOF)
	})
}
