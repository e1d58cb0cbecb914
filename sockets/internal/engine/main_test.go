package engine

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts (connections served, handshakes on the
// other end) has ended when the package's tests are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
