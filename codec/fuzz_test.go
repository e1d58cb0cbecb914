package codec_test

import (
	"testing"

	"github.com/zmqkit/zmqkit/codec"
)

// Each fuzz target feeds arbitrary bytes to one decoder: it may fail, never
// panic, and what it accepts must encode again.

func fuzzCodec[T any](f *testing.F, c codec.Codec[T], seeds ...T) {
	for _, s := range seeds {
		b, err := codec.Encode(c, s)
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

var seedOrders = []order{{}, {ID: 1, Item: "x", Qty: 1.5, Tags: []string{"t"}, Attrs: map[string]string{"a": "b"}}}

func FuzzJSON(f *testing.F)   { fuzzCodec(f, codec.JSON[order](), seedOrders...) }
func FuzzGob(f *testing.F)    { fuzzCodec(f, codec.Gob[order](), seedOrders...) }
func FuzzString(f *testing.F) { fuzzCodec(f, codec.String(), "", "hello", "\xff\xfe") }
