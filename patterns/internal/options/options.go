// Package options holds the little the patterns' functional options share.
// Each pattern types its options by role, as connect-go does: a sealed
// interface per role (BrokerOption, WorkerOption, …), an option accepted by
// several roles implementing several, so that a constructor cannot be
// given an option its role would ignore. The interfaces and their
// implementations stay in each pattern, where their unexported methods
// seal them; what is here is how a constructor applies them.
package options

import (
	"fmt"

	"github.com/zmqkit/zmqkit/sockets"
)

// Apply applies opts to c in turn with apply, the role's method, and
// returns the first error.
func Apply[O, C any](c *C, opts []O, apply func(O, *C) error) error {
	for _, o := range opts {
		if err := apply(o, c); err != nil {
			return err
		}
	}
	return nil
}

// Bad returns an error matching sockets.ErrBadOption that says, with
// format and args, what is wrong.
func Bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", sockets.ErrBadOption, fmt.Sprintf(format, args...))
}
