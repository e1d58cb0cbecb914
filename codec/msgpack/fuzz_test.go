package msgpack_test

import (
	"testing"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/codec/msgpack"
)

// FuzzMsgpack feeds arbitrary bytes to the decoder: it may fail, never
// panic, and what it accepts must encode again.
func FuzzMsgpack(f *testing.F) {
	c := msgpack.Codec[order]()
	for _, o := range []order{{}, {ID: 1, Item: "x", Qty: 1.5, Tags: []string{"t"}, Attrs: map[string]string{"a": "b"}}} {
		b, err := codec.Encode(c, o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0x00, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := codec.Decode(c, data)
		if err != nil {
			return
		}
		if _, err := codec.Encode(c, v); err != nil {
			t.Fatalf("decoded %q but cannot encode it again: %v", data, err)
		}
	})
}
