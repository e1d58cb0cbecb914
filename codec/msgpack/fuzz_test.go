package msgpack_test

import (
	"testing"

	"github.com/zmqkit/zmqkit/codec/internal/codectest"
	"github.com/zmqkit/zmqkit/codec/msgpack"
)

func FuzzMsgpack(f *testing.F) {
	codectest.Fuzz(f, msgpack.Codec[order](), order{}, order{ID: 1, Item: "x", Qty: 1.5, Tags: []string{"t"}, Attrs: map[string]string{"a": "b"}})
}
