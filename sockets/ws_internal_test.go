package sockets

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

func TestSubprotocolNamesMatchEngine(t *testing.T) {
	assert.Equal(t, engine.SubprotocolNull, SubprotocolNull)
	assert.Equal(t, engine.SubprotocolPlain, SubprotocolPlain)
	assert.Equal(t, engine.SubprotocolCurve, SubprotocolCurve)
	assert.Equal(t, engine.SubprotocolBare, SubprotocolBare)
}
