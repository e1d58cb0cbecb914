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

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	// The first "upper" request went to upper-1, which was stopped holding
	// it: upper-2 answered it.
	assert.Equal(t, `mmi.service "echo" → ["200"]
mmi.service "upper" → ["200"]
mmi.service "lower" → ["404"]
mmi.workers "upper" → ["501"]
echo "hello" → ["hello"]
upper "hello" → ["HELLO" "by upper-2"]
upper "again" → ["AGAIN" "by upper-2"]
7 requests, 3 answered by workers, 4 by the broker; 1 requeued; 2 workers left
`, out.String())
}
