// Package msgpack is a codec.Codec for MessagePack, with
// github.com/vmihailenco/msgpack/v5. It lives apart from package codec so
// that a program that does not use it does not compile that dependency.
package msgpack

import (
	"encoding/binary"
	"errors"
	"fmt"

	vmsgpack "github.com/vmihailenco/msgpack/v5"

	"github.com/zmqkit/zmqkit/codec"
)

type msgpackCodec[T any] struct{}

// Codec encodes with github.com/vmihailenco/msgpack/v5; its Name is
// "msgpack". Decoding first checks the bytes' structure (see
// checkMsgpack), so that a hostile message costs memory in proportion to
// its size and cannot nest deeper than MaxDepth.
func Codec[T any]() codec.Codec[T] { return msgpackCodec[T]{} }

func (msgpackCodec[T]) Name() string                { return "msgpack" }
func (msgpackCodec[T]) Marshal(v T) ([]byte, error) { return vmsgpack.Marshal(v) }
func (msgpackCodec[T]) Unmarshal(b []byte, v *T) error {
	if err := checkMsgpack(b); err != nil {
		return err
	}
	return vmsgpack.Unmarshal(b, v)
}

// MaxDepth bounds how deeply msgpack arrays and maps may nest in a
// message, as encoding/json bounds JSON.
const MaxDepth = 10000

var errMsgpackShort = errors.New("msgpack: a length runs past the end of the message")

// checkMsgpack walks the first msgpack value in b without decoding it and
// fails when a length announces more than the bytes that follow could hold
// (every array element and map key or value takes at least one byte), or
// when containers nest deeper than MaxDepth. vmihailenco/msgpack
// sizes its allocations from announced lengths (up to tens of MiB for a
// 20-byte message) and recurses once per level; after this check neither
// can outgrow the message.
func checkMsgpack(b []byte) error {
	pos, need := 0, 1 // need: values still to read at this level
	var outer []int   // need of the enclosing levels
	take := func(n uint64) error {
		if n > uint64(len(b)-pos) {
			return errMsgpackShort
		}
		pos += int(n)
		return nil
	}
	length := func(size int) (uint64, error) {
		if size > len(b)-pos {
			return 0, errMsgpackShort
		}
		var n uint64
		switch size {
		case 1:
			n = uint64(b[pos])
		case 2:
			n = uint64(binary.BigEndian.Uint16(b[pos:]))
		case 4:
			n = uint64(binary.BigEndian.Uint32(b[pos:]))
		}
		pos += size
		return n, nil
	}
	for {
		if need == 0 {
			if len(outer) == 0 {
				return nil
			}
			need, outer = outer[len(outer)-1], outer[:len(outer)-1]
			continue
		}
		if pos >= len(b) {
			return errMsgpackShort
		}
		c := b[pos]
		pos++
		need--
		var (
			items uint64 // elements of a container that starts here
			skip  uint64 // bytes of payload that follow
			err   error
		)
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixint, nil, bool
		case c <= 0x8f: // fixmap
			items = 2 * uint64(c&0x0f)
		case c <= 0x9f: // fixarray
			items = uint64(c & 0x0f)
		case c <= 0xbf: // fixstr
			skip = uint64(c & 0x1f)
		case c == 0xc4 || c == 0xd9: // bin8, str8
			skip, err = length(1)
		case c == 0xc5 || c == 0xda: // bin16, str16
			skip, err = length(2)
		case c == 0xc6 || c == 0xdb: // bin32, str32
			skip, err = length(4)
		case c == 0xc7: // ext8: length, type
			skip, err = length(1)
			skip++
		case c == 0xc8:
			skip, err = length(2)
			skip++
		case c == 0xc9:
			skip, err = length(4)
			skip++
		case c == 0xca || c == 0xce || c == 0xd2: // 4-byte numbers
			skip = 4
		case c == 0xcb || c == 0xcf || c == 0xd3: // 8-byte numbers
			skip = 8
		case c == 0xcc || c == 0xd0:
			skip = 1
		case c == 0xcd || c == 0xd1:
			skip = 2
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16: type and data
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc: // array16
			items, err = length(2)
		case c == 0xdd: // array32
			items, err = length(4)
		case c == 0xde: // map16
			items, err = length(2)
			items *= 2
		case c == 0xdf: // map32
			items, err = length(4)
			items *= 2
		default: // 0xc1 is never used
			return fmt.Errorf("msgpack: invalid code 0x%02x at byte %d", c, pos-1)
		}
		if err != nil {
			return err
		}
		if err := take(skip); err != nil {
			return err
		}
		if items > 0 {
			if items > uint64(len(b)-pos) {
				return errMsgpackShort
			}
			if len(outer) >= MaxDepth {
				return fmt.Errorf("msgpack: nested deeper than %d", MaxDepth)
			}
			outer = append(outer, need)
			need = int(items)
		}
	}
}
