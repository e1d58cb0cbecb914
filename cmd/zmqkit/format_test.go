package main

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"hello world", "hello world"},
		{"tab\there", `tab\there`},
		{"line\nbreak\r\n", `line\nbreak\r\n`},
		{`back\slash`, `back\\slash`},
		{`\x41`, `\\x41`}, // a literal backslash-x is not read back as a byte
		{"\x00\x01\x1f\x7f", `\x00\x01\x1f\x7f`},
		{"\xff\xfe", `\xff\xfe`},                   // invalid UTF-8
		{"caf\xc3\xa9", "café"},                    // printable UTF-8 stays readable
		{"\xc3", `\xc3`},                           // a cut rune
		{"\u200b|\u00a0", `\xe2\x80\x8b|\xc2\xa0`}, // invisible characters
		{"\uFFFD", "\uFFFD"},                       // a real replacement character
		{"日本", "日本"},
	} {
		got := string(appendEscaped(nil, []byte(tc.in)))
		assert.Equal(t, tc.want, got, "escape %q", tc.in)
		assert.Equal(t, tc.in, string(unescape([]byte(got))), "round trip %q", tc.in)
	}
}

func TestEscapedIsOneLine(t *testing.T) {
	var all []byte
	for b := 0; b < 256; b++ {
		all = append(all, byte(b))
	}
	line := formatLine([][]byte{all, all})
	assert.Equal(t, 1, strings.Count(line, "\t"), "only the separator is a tab")
	assert.NotContains(t, line, "\n")
	assert.NotContains(t, line, "\r")
	assert.Equal(t, [][]byte{all, all}, parseLine([]byte(line)))
}

func TestLineRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\\\t\n\rx0\x00\xff\xc3\xa9\xe2\x80\x8b")
	for i := 0; i < 2000; i++ {
		frames := make([][]byte, 1+r.IntN(4))
		for k := range frames {
			f := make([]byte, r.IntN(12))
			for j := range f {
				if r.IntN(3) == 0 {
					f[j] = byte(r.IntN(256))
				} else {
					f[j] = alphabet[r.IntN(len(alphabet))]
				}
			}
			frames[k] = f
		}
		line := appendLine(nil, frames)
		if !assert.Equal(t, 1, strings.Count(string(line), "\n")) {
			return
		}
		if !assert.Equal(t, frames, parseLine(line[:len(line)-1]), "line %q", line) {
			return
		}
	}
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{""}},
		{"one", []string{"one"}},
		{"a\tb\t\tc", []string{"a", "b", "", "c"}},
		{`\t\n\\\x00\x4A\x4a`, []string{"\t\n\\\x00JJ"}},
		// Typed by hand: unknown escapes stay as they are.
		{`C:\path\x`, []string{`C:\path\x`}},
		{`\xZ1\x1`, []string{`\xZ1\x1`}},
		{`end\`, []string{`end\`}},
	} {
		got := parseLine([]byte(tc.in))
		want := make([][]byte, len(tc.want))
		for i, s := range tc.want {
			want[i] = []byte(s)
		}
		assert.Equal(t, want, got, "parse %q", tc.in)
	}
}

func TestPayload(t *testing.T) {
	assert.Equal(t, "1 xxxxxxxxxxxxxx", string(payload(1, 16)))
	assert.Equal(t, "123 xxxx", string(payload(123, 8)))
	assert.Equal(t, "1234", string(payload(1234, 4)))
	assert.Equal(t, "12", string(payload(1234, 2)))
	assert.Equal(t, "", string(payload(7, 0)))
	assert.Len(t, payload(99, 1000), 1000)
}
