package msgpack_test

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/codec/internal/codectest"
	"github.com/zmqkit/zmqkit/codec/msgpack"
)

type order struct {
	ID    int               `msgpack:"id"`
	Item  string            `msgpack:"item"`
	Qty   float64           `msgpack:"qty"`
	Tags  []string          `msgpack:"tags"`
	Attrs map[string]string `msgpack:"attrs"`
}

func TestRoundTrip(t *testing.T) {
	o := order{ID: 7, Item: "widget", Qty: 2.5, Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"}}
	assert.Equal(t, "msgpack", msgpack.Codec[order]().Name())
	assert.Equal(t, o, codectest.RoundTrip(t, msgpack.Codec[order](), o))
}

func TestDecodeErrorNamesCodecTypeAndSize(t *testing.T) {
	_, err := codec.Decode(msgpack.Codec[order](), []byte{0xc1})
	assert.ErrorIs(t, err, codec.ErrDecode)
	var de *codec.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "codec msgpack: cannot decode 1 bytes into msgpack_test.order")
}

// Announced lengths cannot make a small message cost more than a small
// multiple of its size, and nesting is bounded: each of these is refused as
// undecodable, having allocated almost nothing.
func TestMsgpackHostileLengths(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	cases := map[string][]byte{
		"array32 in a field": append([]byte{0x81, 0xa4, 't', 'a', 'g', 's', 0xdd}, huge...),
		"map32 in a field":   append([]byte{0x81, 0xa5, 'a', 't', 't', 'r', 's', 0xdf}, huge...),
		"str32":              append([]byte{0x81, 0xa4, 'i', 't', 'e', 'm', 0xdb}, huge...),
		"bin32":              append([]byte{0xc6}, huge...),
		"ext32":              append([]byte{0xc9}, huge...),
		"outer map32":        append([]byte{0xdf}, huge...),
		"array16 short":      {0xdc, 0x01, 0x00, 0x01, 0x02},
		"truncated float64":  {0xcb, 0, 0, 0},
		"never-used 0xc1":    {0xc1},
		"empty":              {},
	}
	for name, in := range cases {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		_, err := codec.Decode(msgpack.Codec[order](), in)
		runtime.ReadMemStats(&ms)
		assert.ErrorIs(t, err, codec.ErrDecode, name)
		assert.Less(t, ms.TotalAlloc-before, uint64(64<<10), "%s allocated %d bytes", name, ms.TotalAlloc-before)
	}
}

func TestMsgpackDepthBound(t *testing.T) {
	deep := append(bytes.Repeat([]byte{0x91}, msgpack.MaxDepth+1), 0xc0) // [[[…[nil]…]]]
	_, err := codec.Decode(msgpack.Codec[any](), deep)
	assert.ErrorIs(t, err, codec.ErrDecode)
	assert.Contains(t, err.Error(), "nested deeper")

	ok := append(bytes.Repeat([]byte{0x91}, 100), 0xc0)
	_, err = codec.Decode(msgpack.Codec[any](), ok)
	assert.NoError(t, err)
}

// The check accepts everything the encoder makes: every kind of value,
// extension types (time) and long forms included.
func TestMsgpackCheckAcceptsWhatTheEncoderMakes(t *testing.T) {
	type all struct {
		N   []any
		M   map[string]any
		S   string
		B   []byte
		T   time.Time
		F32 float32
		F64 float64
		I   []int64
		U   uint64
	}
	v := all{
		N:   []any{nil, true, false, int8(-3), 200, -40000, 1 << 40, "x", []any{[]any{}}},
		M:   map[string]any{"a": map[string]any{"b": []any{1, 2, 3}}},
		S:   string(bytes.Repeat([]byte("s"), 70000)),
		B:   bytes.Repeat([]byte{1}, 300),
		T:   time.Unix(1700000000, 123456789).UTC(),
		F32: 1.5, F64: -2.25,
		I: []int64{0, -1, 127, -129, 1 << 31, -(1 << 40)},
		U: 1<<64 - 1,
	}
	long := make([]any, 70000)
	for i := range long {
		long[i] = i
	}
	v.N = append(v.N, long)
	got := codectest.RoundTrip(t, msgpack.Codec[all](), v)
	assert.Equal(t, v.S, got.S)
	assert.True(t, v.T.Equal(got.T), "time: %v != %v", v.T, got.T)
	assert.Equal(t, v.U, got.U)
	require.Len(t, got.N, len(v.N))
}
