package codec_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/codec/internal/codectest"
)

type order struct {
	ID    int               `json:"id" msgpack:"id"`
	Item  string            `json:"item" msgpack:"item"`
	Qty   float64           `json:"qty" msgpack:"qty"`
	Tags  []string          `json:"tags" msgpack:"tags"`
	Attrs map[string]string `json:"attrs" msgpack:"attrs"`
}

func TestRoundTrips(t *testing.T) {
	o := order{ID: 7, Item: "widget", Qty: 2.5, Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"}}
	for _, c := range []codec.Codec[order]{codec.JSON[order](), codec.Gob[order]()} {
		t.Run(c.Name(), func(t *testing.T) {
			assert.Equal(t, o, codectest.RoundTrip(t, c, o))
		})
	}
	assert.Equal(t, []byte("raw\x00"), codectest.RoundTrip(t, codec.Bytes(), []byte("raw\x00")))
	assert.Equal(t, "héllo", codectest.RoundTrip(t, codec.String(), "héllo"))
}

func TestDecodeErrorNamesCodecTypeAndSize(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"json", decodeErr(codec.JSON[order](), []byte("{not json")), "codec json: cannot decode 9 bytes into codec_test.order"},
		{"gob", decodeErr(codec.Gob[order](), []byte("xx")), "codec gob: cannot decode 2 bytes into codec_test.order"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Error(t, c.err)
			assert.ErrorIs(t, c.err, codec.ErrDecode)
			var de *codec.DecodeError
			require.True(t, errors.As(c.err, &de))
			assert.Contains(t, c.err.Error(), c.want)
		})
	}
}

func decodeErr[T any](c codec.Codec[T], b []byte) error {
	_, err := codec.Decode(c, b)
	return err
}

// panicky is a broken user codec: Decode must contain its panic.
type panicky struct{}

func (panicky) Name() string                     { return "panicky" }
func (panicky) Marshal(v int) ([]byte, error)    { panic("marshal boom") }
func (panicky) Unmarshal(b []byte, v *int) error { panic("unmarshal boom") }

func TestPanicsBecomeErrors(t *testing.T) {
	_, err := codec.Decode[int](panicky{}, []byte("x"))
	assert.ErrorIs(t, err, codec.ErrDecode)
	assert.Contains(t, err.Error(), "unmarshal boom")
	_, err = codec.Encode[int](panicky{}, 1)
	assert.ErrorIs(t, err, codec.ErrEncode)
}

func TestEncodeError(t *testing.T) {
	_, err := codec.Encode(codec.JSON[chan int](), make(chan int))
	assert.ErrorIs(t, err, codec.ErrEncode)
	assert.Contains(t, err.Error(), "codec json: cannot encode chan int")
}

// u64 is the custom codec from the package documentation.
type u64 struct{}

func (u64) Name() string { return "u64" }
func (u64) Marshal(v uint64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, v), nil
}
func (u64) Unmarshal(b []byte, v *uint64) error {
	if len(b) != 8 {
		return fmt.Errorf("want 8 bytes, got %d", len(b))
	}
	*v = binary.BigEndian.Uint64(b)
	return nil
}

func ExampleCodec() {
	var c codec.Codec[uint64] = u64{}
	b, _ := codec.Encode(c, 42)
	v, _ := codec.Decode(c, b)
	_, err := codec.Decode(c, []byte("short"))
	fmt.Println(len(b), v)
	fmt.Println(err)
	// Output:
	// 8 42
	// codec u64: cannot decode 5 bytes into uint64: want 8 bytes, got 5
}

func ExampleJSON() {
	type point struct {
		X, Y int
	}
	c := codec.JSON[point]()
	b, _ := codec.Encode(c, point{X: 1, Y: 2})
	fmt.Println(c.Name(), string(b))
	_, err := codec.Decode(c, []byte("{"))
	fmt.Println(errors.Is(err, codec.ErrDecode))
	// Output:
	// json {"X":1,"Y":2}
	// true
}
