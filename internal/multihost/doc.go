// Package multihost holds the test that runs zmqkit across "hosts": Linux
// network namespaces the test creates, joined by veth pairs to a bridge in
// a namespace of their own, each running zmqkit processes (the test binary
// re-executed in a role). It needs root; built with -tags interop, as CI
// runs it, it fails when it cannot create namespaces, and without the tag
// it skips. The package has no code of its own beyond the tests.
package multihost
