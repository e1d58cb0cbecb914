package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example prints, per request, one trace of three spans, each the
// child of the one above: client → queue → worker.
func TestExampleTraceTree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, 2); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	tree := regexp.MustCompile(`(?m)^trace ([0-9a-f]{32})\n` +
		`  call upper \[client\] span ([0-9a-f]{16}) parent -\n` +
		`    forward queue \[producer\] span ([0-9a-f]{16}) parent ([0-9a-f]{16})\n` +
		`      serve upper \[server\] span ([0-9a-f]{16}) parent ([0-9a-f]{16})\n`)
	ms := tree.FindAllStringSubmatch(out.String(), -1)
	if len(ms) != 2 {
		t.Fatalf("want 2 trees of three spans, got %d:\n%s", len(ms), out.String())
	}
	if ms[0][1] == ms[1][1] {
		t.Error("two requests, one trace id")
	}
	for _, m := range ms {
		if m[4] != m[2] || m[6] != m[3] {
			t.Errorf("parent links broken: %v", m)
		}
	}
	if got := strings.Count(out.String(), "trace "); got != 2 {
		t.Errorf("%d traces, want 2 (no stray spans)", got)
	}
	if !strings.Contains(out.String(), "reply: REQUEST 0") {
		t.Error("no reply")
	}
}
