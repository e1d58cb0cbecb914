//go:build interop

package zmqk8s

// interop: built with -tags interop (as CI runs), a test that cannot set up
// what it needs (a network namespace) fails instead of skipping.
const interop = true
