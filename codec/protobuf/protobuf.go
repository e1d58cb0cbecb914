// Package protobuf is a codec.Codec for protocol buffers, with
// google.golang.org/protobuf. It lives apart from package codec so that a
// program that does not use it does not compile that dependency.
package protobuf

import (
	"google.golang.org/protobuf/proto"

	"github.com/zmqkit/zmqkit/codec"
)

type protoCodec[T proto.Message] struct{}

// Codec encodes protobuf messages (T is the generated pointer type, such
// as *pb.Order) with google.golang.org/protobuf; its Name is "protobuf".
func Codec[T proto.Message]() codec.Codec[T] { return protoCodec[T]{} }

func (protoCodec[T]) Name() string                { return "protobuf" }
func (protoCodec[T]) Marshal(v T) ([]byte, error) { return proto.Marshal(v) }

func (protoCodec[T]) Unmarshal(b []byte, v *T) error {
	var zero T
	m := zero.ProtoReflect().New().Interface().(T)
	if err := proto.Unmarshal(b, m); err != nil {
		return err
	}
	*v = m
	return nil
}
