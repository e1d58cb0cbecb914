package engine

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZ85Vectors(t *testing.T) {
	for _, tc := range []struct {
		raw  []byte
		text string
	}{
		{[]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}, "HelloWorld"}, // RFC 32
		{[]byte{}, ""},
		{[]byte{0, 0, 0, 0}, "00000"},
		{[]byte{0xff, 0xff, 0xff, 0xff}, "%nSc0"}, // the largest group
	} {
		text, err := Z85Encode(tc.raw)
		require.NoError(t, err)
		assert.Equal(t, tc.text, text)
		raw, err := Z85Decode(tc.text)
		require.NoError(t, err)
		assert.Equal(t, tc.raw, raw)
	}
}

func TestZ85RoundTrip(t *testing.T) {
	for _, n := range []int{4, 8, 32, 256} {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		text, err := Z85Encode(b)
		require.NoError(t, err)
		assert.Len(t, text, n/4*5)
		back, err := Z85Decode(text)
		require.NoError(t, err)
		assert.Equal(t, b, back)
	}
}

func TestZ85Rejects(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 31} {
		_, err := Z85Encode(make([]byte, n))
		assert.Error(t, err, "%d bytes", n)
	}
	for _, s := range []string{
		"Hell",        // not a multiple of 5
		"HelloWorl",   // nor this
		"Hello Worl",  // space is not a digit
		"Hello\"orld", // nor is a quote
		"Hell\x80",    // nor a high byte
		"%nSc1",       // 2^32
		"#####",       // far beyond 32 bits
	} {
		_, err := Z85Decode(s)
		assert.Error(t, err, "%q", s)
	}
}
