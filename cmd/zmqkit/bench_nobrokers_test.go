//go:build !brokers

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The Redis and AMQP clients are linked only with -tags brokers; without
// it, asking for them is a usage error, before anything runs.
func TestBenchBrokersNeedTheirBuildTag(t *testing.T) {
	code, _, errOut := runCmd(t, "bench", "--redis", "127.0.0.1:6379")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "-tags brokers")
}
