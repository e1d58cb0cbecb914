//go:build !unix

package sockets_test

func processCPU() (int64, bool) { return 0, false }
