package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example: the good order is processed at once, the
// flaky one on its second attempt, and the bad one, after three, goes to
// the poison topic with the reason.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	assert.Equal(t, `processed order-1 (attempt 1)
order-2 failed (attempt 1)
processed order-2 (attempt 2)
order-3 failed (attempt 1)
order-3 failed (attempt 2)
order-3 failed (attempt 3)
poisoned order-3: always fails
`, out.String())
}
