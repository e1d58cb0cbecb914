//go:build !interop

package zmqk8s

const interop = false
