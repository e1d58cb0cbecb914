package engine

import "fmt"

// Z85 (RFC 32) is how ZeroMQ prints CURVE keys: every 4 bytes, read as a
// big-endian number, become 5 base-85 digits, most significant first.

const z85Digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// z85Values maps a character to its digit plus one; 0 marks a character
// outside the alphabet.
var z85Values = func() (v [256]byte) {
	for i := range len(z85Digits) {
		v[z85Digits[i]] = byte(i + 1)
	}
	return v
}()

// Z85Encode encodes b, whose length must be a multiple of 4, as Z85 (RFC 32).
func Z85Encode(b []byte) (string, error) {
	if len(b)%4 != 0 {
		return "", fmt.Errorf("%d bytes is not a multiple of 4", len(b))
	}
	out := make([]byte, len(b)/4*5)
	for i, o := 0, 0; i < len(b); i, o = i+4, o+5 {
		v := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
		for j := 4; j >= 0; j-- {
			out[o+j] = z85Digits[v%85]
			v /= 85
		}
	}
	return string(out), nil
}

// Z85Decode decodes Z85 text (RFC 32), whose length must be a multiple of 5.
// It rejects characters outside the alphabet and groups worth more than 32
// bits.
func Z85Decode(s string) ([]byte, error) {
	if len(s)%5 != 0 {
		return nil, fmt.Errorf("%d characters is not a multiple of 5", len(s))
	}
	out := make([]byte, len(s)/5*4)
	for i, o := 0, 0; i < len(s); i, o = i+5, o+4 {
		var v uint64
		for j := range 5 {
			d := z85Values[s[i+j]]
			if d == 0 {
				return nil, fmt.Errorf("invalid character %q at %d", s[i+j], i+j)
			}
			v = v*85 + uint64(d-1)
		}
		if v > 0xffffffff {
			return nil, fmt.Errorf("group %q at %d exceeds 32 bits", s[i:i+5], i)
		}
		out[o], out[o+1], out[o+2], out[o+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	return out, nil
}
