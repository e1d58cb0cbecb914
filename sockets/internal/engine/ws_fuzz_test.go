package engine

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeWS is a WebSocket as wsConn sees it: messages to read, and the
// messages written.
type fakeWS struct {
	in      []fakeMsg
	out     [][]byte
	limit   int64
	closed  bool
	readErr error
}

type fakeMsg struct {
	typ  websocket.MessageType
	data []byte
}

func (f *fakeWS) Reader(context.Context) (websocket.MessageType, io.Reader, error) {
	if len(f.in) == 0 {
		return 0, nil, io.EOF
	}
	m := f.in[0]
	f.in = f.in[1:]
	if f.limit >= 0 && int64(len(m.data)) > f.limit {
		return m.typ, io.MultiReader(bytes.NewReader(m.data[:f.limit]), errReader{websocket.ErrMessageTooBig}), nil
	}
	return m.typ, bytes.NewReader(m.data), nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func (f *fakeWS) Write(_ context.Context, _ websocket.MessageType, p []byte) error {
	f.out = append(f.out, append([]byte(nil), p...))
	return nil
}
func (f *fakeWS) SetReadLimit(n int64) { f.limit = n }
func (f *fakeWS) CloseNow() error      { f.closed = true; return nil }

// nopConn is the raw connection under a fake WebSocket.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

func newFakeWSConn(ws *fakeWS, max int64) *wsConn {
	c := newWSConn(ws, nopConn{}, &Options{MaxMsgSize: max}, true, false)
	c.greeting = nil // the decoder reads frames only
	c.greetLeft = 0
	return c
}

// zwsExpect reads ZWS messages as RFC 45 says, independently of the code
// under test: the data messages they make up, until the first thing that
// must end the connection (ok is then false).
func zwsExpect(msgs []fakeMsg, max int64) (out [][][]byte, ok bool) {
	var cur [][]byte
	size := int64(0)
	for _, m := range msgs {
		if m.typ != websocket.MessageBinary || len(m.data) == 0 {
			return out, false
		}
		body := m.data[1:]
		switch m.data[0] {
		case 0x02: // command: alone, not inside a message
			if cur != nil {
				return out, false
			}
			continue
		case 0x00, 0x01:
		default:
			return out, false
		}
		size += int64(len(body))
		if size > max {
			return out, false
		}
		cur = append(cur, body)
		if m.data[0] == 0x00 {
			out = append(out, cur)
			cur, size = nil, 0
		}
	}
	return out, true
}

// FuzzZWSDecode feeds WebSocket messages through wsConn and the ZMTP
// decoder: whatever they hold, the result is the data messages RFC 45
// makes of them (zwsExpect), or an error where it says the peer erred;
// never a panic, and never a message beyond the maximum size.
func FuzzZWSDecode(f *testing.F) {
	f.Add([]byte{2, 0, 3, 0x00, 'a', 'b', 2, 0, 2, 0x01, 'x', 2, 0, 1, 0x00})
	f.Add([]byte{2, 0, 1, 0x02, 1, 0, 0})
	f.Add([]byte{2, 1, 0x2c, 0x00})
	f.Add([]byte{1, 0, 2, 0x00, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		// data: messages, each a type byte, a 2-byte length, the bytes.
		var msgs []fakeMsg
		for len(data) >= 3 {
			typ := websocket.MessageBinary
			if data[0] == 1 {
				typ = websocket.MessageText
			}
			n := min(int(data[1])<<8|int(data[2]), len(data)-3)
			msgs = append(msgs, fakeMsg{typ, data[3 : 3+n]})
			data = data[3+n:]
		}
		const max = 300
		want, wantOK := zwsExpect(msgs, max)
		ws := &fakeWS{in: msgs}
		c := newFakeWSConn(ws, max)
		dec := NewDecoder(c, max)
		var got [][][]byte
		var err error
		for {
			var m Msg
			var cmd bool
			m, cmd, err = dec.ReadMsg()
			if err != nil {
				break
			}
			if cmd {
				continue
			}
			frames := append([][]byte{append([]byte(nil), m.Head...)}, cloneFrames(m.Tail)...)
			got = append(got, frames)
			dec.Release()
		}
		if wantOK {
			require.ErrorIs(t, err, io.EOF)
		} else {
			require.NotErrorIs(t, err, io.EOF, "a peer error ends the connection with its reason")
		}
		require.Equal(t, len(want), len(got))
		for i := range want {
			require.Equal(t, len(want[i]), len(got[i]))
			for j := range want[i] {
				require.True(t, bytes.Equal(want[i][j], got[i][j]))
			}
		}
		c.release()
		assert.Zero(t, c.charged.Load())
	})
}

func cloneFrames(fs [][]byte) [][]byte {
	out := make([][]byte, len(fs))
	for i, f := range fs {
		out[i] = append([]byte(nil), f...)
	}
	return out
}

// FuzzZWSEncode writes messages and commands with the tcp Writer through
// wsConn and checks each WebSocket message against RFC 45: one per frame,
// the flags byte (0x01 more, 0x00 last, 0x02 command), then the body.
func FuzzZWSEncode(f *testing.F) {
	f.Add([]byte("a\x00bb\x01ccc"), uint16(300))
	f.Fuzz(func(t *testing.T, data []byte, big uint16) {
		ws := &fakeWS{}
		c := newWSConn(ws, nopConn{}, &Options{}, false, false)
		// Our greeting goes nowhere.
		_, err := c.Write(greetingFor("NULL", false))
		require.NoError(t, err)
		w := NewWriter(c, 512)
		var want [][]byte
		// Frames split at 0x00 bytes; a message at each 0x01.
		for _, msg := range bytes.Split(data, []byte{1}) {
			frames := bytes.Split(msg, []byte{0})
			frames = append(frames, bytes.Repeat([]byte{'z'}, int(big)%5000))
			require.NoError(t, w.WriteMsg(Msg{Head: frames[0], Tail: frames[1:]}))
			for i, fr := range frames {
				flag := byte(0x01)
				if i == len(frames)-1 {
					flag = 0x00
				}
				want = append(want, append([]byte{flag}, fr...))
			}
			require.NoError(t, w.WriteCommand("PING", []byte{0, 1}))
			want = append(want, []byte("\x02\x04PING\x00\x01"))
		}
		require.NoError(t, w.Flush())
		require.Equal(t, len(want), len(ws.out))
		for i := range want {
			require.True(t, bytes.Equal(want[i], ws.out[i]), "message %d", i)
		}
	})
}

// TestWSBudgetGivenBack: a large message charges the socket's budget while
// it is held, and gives it all back however its connection ends: read
// through, cut short by the decoder (over the maximum size), or closed.
func TestWSBudgetGivenBack(t *testing.T) {
	budget := &Budget{Limit: 10 << 20}
	big := append([]byte{0x00}, make([]byte, 600<<10)...)
	for _, max := range []int64{1 << 20, 100 << 10} {
		ws := &fakeWS{in: []fakeMsg{{websocket.MessageBinary, big}}}
		c := newWSConn(ws, nopConn{}, &Options{MaxMsgSize: max, Budget: budget}, true, false)
		c.greeting, c.greetLeft = nil, 0
		ws.limit = -1
		dec := NewDecoder(c, max)
		dec.Budget = budget
		m, _, err := dec.ReadMsg()
		if max > int64(len(big)) {
			require.NoError(t, err)
			assert.Len(t, m.Head, len(big)-1)
			assert.Zero(t, budget.Used(), "given back once the decoder has it")
		} else {
			require.ErrorIs(t, err, ErrTooLarge)
			assert.Positive(t, budget.Used(), "held while the connection lives")
		}
		require.NoError(t, c.Close())
		assert.Zero(t, budget.Used(), "max %d", max)
	}
}
