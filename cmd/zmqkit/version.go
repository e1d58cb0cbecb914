package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

const versionSynopsis = `Usage: zmqkit version   (or: zmqkit --version)

Prints the version of zmqkit this binary was built from: the module version
(a tag, or a pseudo-version made from the commit; "(devel)" when the build
did not look at git), the Go version and platform, and the commit, its time
and whether the checkout had uncommitted changes. go build, go install and
go run record the commit when they run in a git checkout, unless told not
to (-buildvcs=false, in the command or in GOFLAGS).
`

func runVersion(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return report(stderr, "version", version(args, stdout))
}

func version(args []string, stdout io.Writer) error {
	fs := newFlagSet("version")
	if err := parseFlags(fs, versionSynopsis, args, stdout); err != nil {
		return err
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = &debug.BuildInfo{}
	}
	if _, err := io.WriteString(stdout, versionText(info)); err != nil {
		return fmt.Errorf("writing stdout: %w", err)
	}
	return nil
}

// versionText words what the build recorded: a line with the module
// version, the Go version and the platform, then one per VCS fact known.
func versionText(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "unknown"
	}
	s := fmt.Sprintf("zmqkit %s (%s %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	vcs := map[string]string{}
	for _, kv := range info.Settings {
		vcs[kv.Key] = kv.Value
	}
	if r := vcs["vcs.revision"]; r != "" {
		s += "revision: " + r + "\n"
	} else {
		s += "revision: unknown (not recorded by this build)\n"
	}
	if t := vcs["vcs.time"]; t != "" {
		s += "time:     " + t + "\n"
	}
	if m := vcs["vcs.modified"]; m != "" {
		s += "modified: " + m + "\n"
	}
	return s
}
