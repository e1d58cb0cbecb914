package protobuf_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/codec/internal/codectest"
	"github.com/zmqkit/zmqkit/codec/protobuf"
)

func TestRoundTrip(t *testing.T) {
	c := protobuf.Codec[*wrapperspb.StringValue]()
	assert.Equal(t, "protobuf", c.Name())
	pm := wrapperspb.String("proto value")
	assert.True(t, proto.Equal(pm, codectest.RoundTrip(t, c, pm)))
}

func TestDecodeErrorNamesCodecTypeAndSize(t *testing.T) {
	_, err := codec.Decode(protobuf.Codec[*structpb.Struct](), []byte{0xff, 0xff})
	assert.ErrorIs(t, err, codec.ErrDecode)
	var de *codec.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "codec protobuf: cannot decode 2 bytes into *structpb.Struct")
}

func FuzzProto(f *testing.F) {
	s, err := structpb.NewStruct(map[string]any{"a": 1.0, "b": "c", "d": []any{true, nil}})
	if err != nil {
		f.Fatal(err)
	}
	codectest.Fuzz(f, protobuf.Codec[*structpb.Struct](), s)
}
