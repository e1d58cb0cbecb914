package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, 20000))
	s := out.String()
	t.Log("\n" + s)
	assert.Contains(t, s, "publisher: 5 symbols, seq 15")
	assert.Equal(t, 2, strings.Count(s, "at once (replay: true, latest: true)"), "the late subscriber got both EUR prices from the cache")
	assert.Contains(t, s, "replica: synced at seq 15 with 5 symbols")
	assert.Regexp(t, `snail: gives up after \d+ prices: pubsub: (lost|falling behind)`, s)
	assert.Contains(t, s, "replica: seq 20015 of 20015, state matches the publisher: true")
}
