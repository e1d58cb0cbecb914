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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, 64, 4))
	s := out.String()
	t.Log("\n" + s)
	// 32 widget calls for 2 each with 32 in stock; 32 gadget calls for 1.
	assert.Regexp(t, `64 concurrent calls on one socket in \S+: 48 reserved, 16 out of stock`, s)
	assert.Contains(t, s, "errors.Is ErrOutOfStock: true")
	assert.Contains(t, s, "errors.Is ErrNoMethod: true")
	assert.Contains(t, s, "audit call: context deadline exceeded")
	assert.Regexp(t, `audit handler: deadline \d+ms away when it started, stopped by context deadline exceeded`, s)
	assert.Contains(t, s, "server: 67 requests, 67 replies, 19 errors")
}
