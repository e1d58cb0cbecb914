// Package codectest holds what the tests of every codec package share: a
// round trip and the fuzz target's body.
package codectest

import (
	"testing"

	"github.com/zmqkit/zmqkit/codec"
)

// RoundTrip encodes v with c and decodes it again, failing t on an error.
func RoundTrip[T any](t testing.TB, c codec.Codec[T], v T) T {
	t.Helper()
	b, err := codec.Encode(c, v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	got, err := codec.Decode(c, b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return got
}

// Fuzz feeds arbitrary bytes to c's decoder, starting from the encodings
// of seeds: it may fail, never panic, and what it accepts must encode
// again.
func Fuzz[T any](f *testing.F, c codec.Codec[T], seeds ...T) {
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
