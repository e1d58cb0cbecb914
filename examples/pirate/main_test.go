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
	require.NoError(t, run(ctx, &out, 3, 8))
	// Least recently used: w1, w2 (killed: its request goes to w3, ready
	// longest), then w1 and w3 in turn.
	assert.Equal(t, strings.Join([]string{
		"3 workers ready",
		"request  1 → w1",
		"request  2 → w3 (w2 was killed holding it; the broker gave it to w3)",
		"request  3 → w1",
		"request  4 → w3",
		"request  5 → w1",
		"request  6 → w3",
		"request  7 → w1",
		"request  8 → w3",
		"8 requests answered; 1 requeued; 2 workers left",
	}, "\n")+"\n", out.String())
}
