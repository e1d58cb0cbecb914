package codec

import "github.com/vmihailenco/msgpack/v5"

type msgpackCodec[T any] struct{}

// Msgpack encodes with github.com/vmihailenco/msgpack/v5.
func Msgpack[T any]() Codec[T] { return msgpackCodec[T]{} }

func (msgpackCodec[T]) Name() string                   { return "msgpack" }
func (msgpackCodec[T]) Marshal(v T) ([]byte, error)    { return msgpack.Marshal(v) }
func (msgpackCodec[T]) Unmarshal(b []byte, v *T) error { return msgpack.Unmarshal(b, v) }
