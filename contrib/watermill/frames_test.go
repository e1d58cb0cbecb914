package zmqwatermill

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

var testLimits = Limits{}.withDefaults()

// TestWireFormat pins version 1 byte for byte, as docs/watermill.md
// describes it: a peer in another language can be written from the doc.
func TestWireFormat(t *testing.T) {
	m, err := encodeMessage("orders", "id-1", map[string]string{"b": "2", "a": "1"}, []byte("payload"), testLimits)
	require.NoError(t, err)
	require.Equal(t, 3, m.Len())
	assert.Equal(t, []byte("orders\x00"), m.Frame(0))
	assert.Equal(t, []byte{
		1, 0, // version 1, kind message
		4, 'i', 'd', '-', '1', // uuid
		2,              // two entries, in key order
		1, 'a', 1, '1', // a=1
		1, 'b', 1, '2', // b=2
	}, m.Frame(1))
	assert.Equal(t, []byte("payload"), m.Frame(2))

	// The example of docs/watermill.md.
	m, err = encodeMessage("orders", "id-1", map[string]string{"a": "1"}, []byte("p"), testLimits)
	require.NoError(t, err)
	assert.Equal(t, "6f726465727300|01000469642d310101610131|70",
		hex.EncodeToString(m.Frame(0))+"|"+hex.EncodeToString(m.Frame(1))+"|"+hex.EncodeToString(m.Frame(2)))

	w := welcomeMsg([]byte("orders\x00"))
	assert.Equal(t, [][]byte{[]byte("orders\x00"), {1, 1}}, w.Frames())
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		topic   string
		uuid    string
		meta    map[string]string
		payload []byte
	}{
		{"empty", "", "", nil, nil},
		{"plain", "t", "u", map[string]string{"k": "v"}, []byte("x")},
		{"binary", "a/b.c", "\xff\x00", map[string]string{"": "", "\x00": "\xff"}, []byte{0, 1, 2}},
		{"long", strings.Repeat("t", 1024), strings.Repeat("u", 256), map[string]string{"k": strings.Repeat("v", 300)}, bytes.Repeat([]byte{7}, 1<<16)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := encodeMessage(c.topic, c.uuid, c.meta, c.payload, testLimits)
			require.NoError(t, err)
			d, err := decodeMessage(m, testLimits)
			require.NoError(t, err)
			assert.Equal(t, c.topic, d.topic)
			assert.Equal(t, c.uuid, d.uuid)
			assert.False(t, d.welcome)
			assert.Len(t, d.meta, len(c.meta))
			for k, v := range c.meta {
				assert.Equal(t, v, d.meta[k])
			}
			assert.Equal(t, len(c.payload), len(d.payload))
			assert.True(t, bytes.Equal(c.payload, d.payload))
		})
	}
}

// TestEncodeCopies: the frames do not share the caller's payload, which
// an inproc peer would otherwise read while the caller reuses it.
func TestEncodeCopies(t *testing.T) {
	p := []byte("abc")
	m, err := encodeMessage("t", "u", nil, p, testLimits)
	require.NoError(t, err)
	p[0] = 'X'
	assert.Equal(t, []byte("abc"), m.Frame(2))
}

func TestEncodeRefuses(t *testing.T) {
	l := Limits{MaxTopicBytes: 4, MaxHeaderBytes: 32, MaxUUIDBytes: 4, MaxMetadata: 2}.withDefaults()
	_, err := encodeMessage("t", "12345", nil, nil, l)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = encodeMessage("t", "u", map[string]string{"a": "", "b": "", "c": ""}, nil, l)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = encodeMessage("t", "u", map[string]string{"a": strings.Repeat("v", 40)}, nil, l)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.ErrorIs(t, checkTopic("12345", l), ErrTooLarge)
	assert.ErrorIs(t, checkTopic("a\x00b", l), ErrBadTopic)
	assert.NoError(t, checkTopic("abcd", l))
}

// header builds a header frame by hand.
func header(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case byte:
			b = append(b, v)
		case int:
			b = binary.AppendUvarint(b, uint64(v))
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

func TestDecodeRefuses(t *testing.T) {
	l := Limits{MaxTopicBytes: 8, MaxHeaderBytes: 64, MaxUUIDBytes: 8, MaxMetadata: 4}.withDefaults()
	ok := header(byte(1), byte(0), 1, "u", 0)
	cases := []struct {
		name   string
		frames [][]byte
		want   error
	}{
		{"one frame", [][]byte{[]byte("t\x00")}, ErrMalformed},
		{"four frames", [][]byte{[]byte("t\x00"), ok, nil, nil}, ErrMalformed},
		{"two frames, a message", [][]byte{[]byte("t\x00"), ok}, ErrMalformed},
		{"topic without 0x00", [][]byte{[]byte("t"), ok, nil}, ErrMalformed},
		{"empty topic frame", [][]byte{{}, ok, nil}, ErrMalformed},
		{"0x00 inside the topic", [][]byte{[]byte("a\x00b\x00"), ok, nil}, ErrMalformed},
		{"topic too long", [][]byte{[]byte("123456789\x00"), ok, nil}, ErrTooLarge},
		{"header too long", [][]byte{[]byte("t\x00"), append(header(byte(1), byte(0), 1, "u", 0), make([]byte, 64)...), nil}, ErrTooLarge},
		{"empty header", [][]byte{[]byte("t\x00"), {}, nil}, ErrMalformed},
		{"version 2", [][]byte{[]byte("t\x00"), header(byte(2), byte(0), 1, "u", 0), nil}, ErrMalformed},
		{"kind 7", [][]byte{[]byte("t\x00"), header(byte(1), byte(7)), nil}, ErrMalformed},
		{"welcome with payload", [][]byte{[]byte("t\x00"), {1, 1}, nil}, ErrMalformed},
		{"welcome with more header", [][]byte{[]byte("t\x00"), {1, 1, 0}}, ErrMalformed},
		{"uuid past the end", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 5, "u"), nil}, ErrMalformed},
		{"uuid too long", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 9, "123456789", 0), nil}, ErrTooLarge},
		{"length overflows", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), bytes.Repeat([]byte{0xff}, 10), byte(1)), nil}, ErrMalformed},
		{"no metadata count", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 1, "u"), nil}, ErrMalformed},
		{"too many entries", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 1, "u", 5), nil}, ErrTooLarge},
		{"count beyond the bytes", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 1, "u", 3, 0, 0), nil}, ErrMalformed},
		{"huge count", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 1, "u", 1<<62), nil}, ErrTooLarge},
		{"value past the end", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 1, "u", 1, 1, "k", 9, "v"), nil}, ErrMalformed},
		{"key twice", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 1, "u", 2, 1, "k", 0, 1, "k", 0), nil}, ErrMalformed},
		{"bytes left over", [][]byte{[]byte("t\x00"), header(byte(1), byte(0), 1, "u", 0, byte(9)), nil}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeMessage(sockets.MsgOf(c.frames...), l)
			assert.ErrorIs(t, err, c.want)
		})
	}
	d, err := decodeMessage(sockets.MsgOf([]byte("t\x00"), ok, []byte("p")), l)
	require.NoError(t, err)
	assert.Equal(t, "u", d.uuid)
	d, err = decodeMessage(sockets.MsgOf([]byte("t\x00"), []byte{1, 1}), l)
	require.NoError(t, err)
	assert.True(t, d.welcome)
	assert.Equal(t, "t", d.topic)
}

// FuzzDecode: whatever frames arrive, decoding returns a message or an
// error, never panics, and what it accepts encodes back to a message that
// decodes the same.
func FuzzDecode(f *testing.F) {
	m, _ := encodeMessage("orders", "id-1", map[string]string{"a": "1", "b": "2"}, []byte("payload"), testLimits)
	f.Add(m.Frame(0), m.Frame(1), m.Frame(2), uint8(3))
	f.Add([]byte("t\x00"), []byte{1, 1}, []byte(nil), uint8(2))
	f.Add([]byte("t\x00"), header(byte(1), byte(0), 1, "u", 1<<62), []byte(nil), uint8(3))
	f.Add([]byte("t\x00"), header(byte(1), byte(0), 1, "u", 2, 1, "k", 0, 1, "k", 0), []byte("x"), uint8(3))
	f.Fuzz(func(t *testing.T, topic, hdr, payload []byte, n uint8) {
		frames := [][]byte{topic, hdr, payload, nil}[:1+int(n)%4]
		l := Limits{MaxTopicBytes: 64, MaxHeaderBytes: 256, MaxUUIDBytes: 32, MaxMetadata: 8}.withDefaults()
		d, err := decodeMessage(sockets.MsgOf(frames...), l)
		if err != nil || d.welcome {
			return
		}
		m, err := encodeMessage(d.topic, d.uuid, d.meta, d.payload, l)
		require.NoError(t, err, "a decoded message must encode within the same limits")
		d2, err := decodeMessage(m, l)
		require.NoError(t, err)
		assert.Equal(t, d.topic, d2.topic)
		assert.Equal(t, d.uuid, d2.uuid)
		assert.Equal(t, d.meta, d2.meta)
		assert.True(t, bytes.Equal(d.payload, d2.payload))
	})
}
