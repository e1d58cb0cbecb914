//go:build linux

package multihost

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// roleEnv names the role a re-executed test binary plays inside a
// namespace (roles_linux_test.go); the test itself runs without it.
const roleEnv = "ZMQKIT_MULTIHOST_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(role); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
