//go:build linux && interop

package multihost

// requireNamespaces: with -tags interop (CI, as root) a test that cannot
// create network namespaces fails.
const requireNamespaces = true
