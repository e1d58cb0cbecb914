package main

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// The line format shared by recv (output), send (stdin input) and the
// replies send prints for REQ:
//
//   - one message per line; its frames are joined by a tab;
//   - in a frame, a backslash is written \\, a tab \t, a newline \n, a
//     carriage return \r; any other byte that is not part of a printable
//     UTF-8 character (control bytes, DEL, invalid UTF-8, and non-printing
//     or space characters beyond ASCII) is written \xNN in lower-case hex.
//
// A line therefore holds no raw tab or newline from the data, and reading it
// back gives exactly the frames that were printed.

const hexDigits = "0123456789abcdef"

// appendEscaped appends frame to dst in the line format.
func appendEscaped(dst, frame []byte) []byte {
	for i := 0; i < len(frame); {
		c := frame[i]
		switch {
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20 || c == 0x7f:
			dst = appendHex(dst, c)
		case c < utf8.RuneSelf:
			dst = append(dst, c)
		default:
			r, size := utf8.DecodeRune(frame[i:])
			if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
				for _, b := range frame[i : i+size] {
					dst = appendHex(dst, b)
				}
			} else {
				dst = append(dst, frame[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return dst
}

func appendHex(dst []byte, b byte) []byte {
	return append(dst, '\\', 'x', hexDigits[b>>4], hexDigits[b&0xf])
}

// appendLine appends a message as one line, newline included.
func appendLine(dst []byte, frames [][]byte) []byte {
	for i, f := range frames {
		if i > 0 {
			dst = append(dst, '\t')
		}
		dst = appendEscaped(dst, f)
	}
	return append(dst, '\n')
}

// formatLine is a message as one line, without the newline.
func formatLine(frames [][]byte) string {
	b := appendLine(nil, frames)
	return string(b[:len(b)-1])
}

// unescape undoes appendEscaped. It is lenient, for lines typed by hand: a
// backslash that does not start one of the escapes above stays as it is.
func unescape(s []byte) []byte {
	if bytes.IndexByte(s, '\\') < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			out = append(out, c)
			continue
		}
		switch s[i+1] {
		case '\\':
			out = append(out, '\\')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 'x':
			hi, ok1 := unhex(s, i+2)
			lo, ok2 := unhex(s, i+3)
			if !ok1 || !ok2 {
				out = append(out, c)
				continue
			}
			out = append(out, hi<<4|lo)
			i += 3
			continue
		default:
			out = append(out, c)
			continue
		}
		i++
	}
	return out
}

// unhex decodes the hex digit at s[i], if there is one.
func unhex(s []byte, i int) (byte, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseLine reads a line in the line format (without its newline) as the
// frames of one message: split at tabs, each part unescaped. An empty line
// is one empty frame.
func parseLine(line []byte) [][]byte {
	parts := bytes.Split(line, []byte{'\t'})
	frames := make([][]byte, len(parts))
	for i, p := range parts {
		frames[i] = unescape(p)
	}
	return frames
}
