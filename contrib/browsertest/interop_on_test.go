//go:build interop

package browsertest

const needBrowser = true
