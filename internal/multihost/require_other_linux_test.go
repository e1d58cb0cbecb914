//go:build linux && !interop

package multihost

// requireNamespaces: without -tags interop a test that cannot create
// network namespaces skips.
const requireNamespaces = false
