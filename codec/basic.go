package codec

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
)

type bytesCodec struct{}

// Bytes passes frames through unchanged (no copy either way).
func Bytes() Codec[[]byte] { return bytesCodec{} }

func (bytesCodec) Name() string                        { return "bytes" }
func (bytesCodec) Marshal(v []byte) ([]byte, error)    { return v, nil }
func (bytesCodec) Unmarshal(b []byte, v *[]byte) error { *v = b; return nil }

type stringCodec struct{}

// String sends a string as its bytes. Any byte sequence decodes (Go strings
// need not be valid UTF-8).
func String() Codec[string] { return stringCodec{} }

func (stringCodec) Name() string                        { return "string" }
func (stringCodec) Marshal(v string) ([]byte, error)    { return []byte(v), nil }
func (stringCodec) Unmarshal(b []byte, v *string) error { *v = string(b); return nil }

type jsonCodec[T any] struct{}

// JSON encodes with encoding/json. It interoperates with pyzmq's
// send_json/recv_json.
func JSON[T any]() Codec[T] { return jsonCodec[T]{} }

func (jsonCodec[T]) Name() string                   { return "json" }
func (jsonCodec[T]) Marshal(v T) ([]byte, error)    { return json.Marshal(v) }
func (jsonCodec[T]) Unmarshal(b []byte, v *T) error { return json.Unmarshal(b, v) }

type gobCodec[T any] struct{}

// Gob encodes with encoding/gob, one self-describing stream per message
// (type information included each time: simple, not compact). encoding/gob
// is not hardened against adversarial input (its documentation says a
// hostile stream may consume significant resources): use Gob between
// parties that trust each other, and JSON, msgpack or protobuf with peers
// that may not.
func Gob[T any]() Codec[T] { return gobCodec[T]{} }

func (gobCodec[T]) Name() string { return "gob" }

func (gobCodec[T]) Marshal(v T) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (gobCodec[T]) Unmarshal(b []byte, v *T) error {
	return gob.NewDecoder(bytes.NewReader(b)).Decode(v)
}
