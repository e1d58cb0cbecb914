//go:build !libzmq

package bench

// LibzmqBuiltIn reports whether this build can measure libzmq (build with
// -tags libzmq and Debian's libzmq3-dev installed).
const LibzmqBuiltIn = false

func libzmqJobs([]int, limits) []job { return nil }
