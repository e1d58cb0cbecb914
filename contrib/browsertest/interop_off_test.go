//go:build !interop

package browsertest

const needBrowser = false
