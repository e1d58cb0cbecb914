package protobuf_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/codec/protobuf"
)

func TestRoundTrip(t *testing.T) {
	c := protobuf.Codec[*wrapperspb.StringValue]()
	assert.Equal(t, "protobuf", c.Name())
	pm := wrapperspb.String("proto value")
	b, err := codec.Encode(c, pm)
	require.NoError(t, err)
	got, err := codec.Decode(c, b)
	require.NoError(t, err)
	assert.True(t, proto.Equal(pm, got))
}

func TestDecodeErrorNamesCodecTypeAndSize(t *testing.T) {
	_, err := codec.Decode(protobuf.Codec[*structpb.Struct](), []byte{0xff, 0xff})
	assert.ErrorIs(t, err, codec.ErrDecode)
	var de *codec.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "codec protobuf: cannot decode 2 bytes into *structpb.Struct")
}

// FuzzProto feeds arbitrary bytes to the decoder: it may fail, never
// panic, and what it accepts must encode again.
func FuzzProto(f *testing.F) {
	c := protobuf.Codec[*structpb.Struct]()
	s, err := structpb.NewStruct(map[string]any{"a": 1.0, "b": "c", "d": []any{true, nil}})
	if err != nil {
		f.Fatal(err)
	}
	b, err := codec.Encode(c, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0x00, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := codec.Decode(c, data)
		if err != nil {
			return
		}
		if _, err := codec.Encode(c, v); err != nil {
			t.Fatalf("decoded %q but cannot encode it again: %v", data, err)
		}
	})
}
