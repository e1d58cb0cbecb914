package codec_test

import (
	"testing"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/codec/internal/codectest"
)

// Each fuzz target feeds arbitrary bytes to one decoder (codectest.Fuzz).

var seedOrders = []order{{}, {ID: 1, Item: "x", Qty: 1.5, Tags: []string{"t"}, Attrs: map[string]string{"a": "b"}}}

func FuzzJSON(f *testing.F)   { codectest.Fuzz(f, codec.JSON[order](), seedOrders...) }
func FuzzGob(f *testing.F)    { codectest.Fuzz(f, codec.Gob[order](), seedOrders...) }
func FuzzString(f *testing.F) { codectest.Fuzz(f, codec.String(), "", "hello", "\xff\xfe") }
