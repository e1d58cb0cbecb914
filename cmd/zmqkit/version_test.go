package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersionText(t *testing.T) {
	got := versionText(&debug.BuildInfo{
		Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if assert.Len(t, lines, 4, got) {
		assert.True(t, strings.HasPrefix(lines[0], "zmqkit v1.2.3 (go"), lines[0])
		assert.Equal(t, "revision: 0123abcd", lines[1])
		assert.Equal(t, "time:     2026-01-02T03:04:05Z", lines[2])
		assert.Equal(t, "modified: true", lines[3])
	}
	got = versionText(&debug.BuildInfo{})
	assert.Contains(t, got, "zmqkit unknown (go")
	assert.Contains(t, got, "revision: unknown")
}

// Both spellings run, through the binary TestMain built, and print what
// that build recorded.
func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		p := start(t, nil, args...)
		assert.Equal(t, 0, p.wait(t), args)
		out := p.stdout.String()
		assert.True(t, strings.HasPrefix(out, "zmqkit "), "%v: %q", args, out)
		assert.Contains(t, out, "\nrevision: ", args)
		assert.Empty(t, p.stderr.String(), args)
	}
	code, out, _ := runCmd(t, "version", "extra")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
}
