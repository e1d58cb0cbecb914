package codec

import (
	"google.golang.org/protobuf/proto"
)

type protoCodec[T proto.Message] struct{}

// Proto encodes protobuf messages (T is the generated pointer type, such as
// *pb.Order) with google.golang.org/protobuf.
func Proto[T proto.Message]() Codec[T] { return protoCodec[T]{} }

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
