package readme

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExtract(t *testing.T) {
	md := "# T\n\n```go\npackage main\n\nfunc main() {}\n```\n\n```text\nhi\n```\n\n" +
		"prose\n\n```go\nx := 1\n_ = x\n```\n\n```sh\nls\n```\n\n" +
		"```go\npackage main\n```\nnot blank\n```text\nno\n```\n"
	got, err := Extract("T.md", md)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, Snippet{File: "T.md", Line: 4, Code: "package main\n\nfunc main() {}\n", Program: true, Output: "hi\n", HasOutput: true}, got[0])
	assert.Equal(t, Snippet{File: "T.md", Line: 16, Code: "x := 1\n_ = x\n"}, got[1])
	assert.Equal(t, Snippet{File: "T.md", Line: 25, Code: "package main\n", Program: true}, got[2], "an output block after prose belongs to no program")

	_, err = Extract("T.md", "a\n```go\nx := 1\n")
	assert.ErrorContains(t, err, "T.md:2: code fence never closed")
}

func TestFragmentImportsWhatItNames(t *testing.T) {
	f := Fragment("p", "f", "/x/README.md", Snippet{Line: 7, Code: "s, err := sockets.NewPush()\nif err != nil { return fmt.Errorf(\"x: %w\", err) }\n_ = s\n"})
	assert.Contains(t, f, "\t\"context\"\n\t\"fmt\"\n\t\"github.com/zmqkit/zmqkit/sockets\"\n)")
	assert.Contains(t, f, "func f(ctx context.Context) error {\n//line /x/README.md:7\ns, err")
	assert.NotContains(t, f, "errors")
}

// moduleRoot is the checkout this package lives in.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "the module root should be two folders up")
	return root
}

// pages returns README.md and docs/*.md under root.
func pages(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	return append([]string{filepath.Join(root, "README.md")}, docs...)
}

// collect returns the snippets of README.md and docs/*.md under root.
func collect(t *testing.T, root string) []Snippet {
	t.Helper()
	var all []Snippet
	for _, f := range pages(t, root) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		s, err := Extract(f, string(b))
		require.NoError(t, err)
		all = append(all, s...)
	}
	return all
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9]+`)

// writeModule writes every snippet into a new module in dir that uses the
// checkout at root, and returns the package directories of the programs
// to run, with the output each must print.
func writeModule(t *testing.T, root, dir string, snippets []Snippet) map[string]string {
	t.Helper()
	gomod := fmt.Sprintf("module readmesnippets\n\ngo 1.26.0\n\nrequire github.com/zmqkit/zmqkit v0.0.0\n\nreplace github.com/zmqkit/zmqkit => %s\n", root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "fragments"), 0o755))

	run := map[string]string{}
	for _, s := range snippets {
		rel, err := filepath.Rel(root, s.File)
		require.NoError(t, err)
		name := strings.Trim(nonIdent.ReplaceAllString(rel, "_"), "_") + fmt.Sprintf("_L%d", s.Line)
		if s.Program {
			pkg := filepath.Join(dir, "prog_"+name)
			require.NoError(t, os.Mkdir(pkg, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(pkg, "main.go"), []byte(Program(s.File, s)), 0o644))
			if s.HasOutput {
				run["./prog_"+name] = s.Output
			}
			continue
		}
		src := Fragment("fragments", "snippet_"+name, s.File, s)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "fragments", name+".go"), []byte(src), 0o644))
	}
	return run
}

func goCmd(t *testing.T, ctx context.Context, dir string, args ...string) *exec.Cmd {
	t.Helper()
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to build the snippets")
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = dir
	// -mod=mod: the temporary go.mod lists only zmqkit; its requirements
	// come from the checkout's go.mod and their sums from its go.sum.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	return cmd
}

// TestSnippetsCompile builds every ```go block of README.md and docs/*.md
// in one module, then runs the programs that show their output.
func TestSnippetsCompile(t *testing.T) {
	root := moduleRoot(t)
	snippets := collect(t, root)
	programs, fragments := 0, 0
	for _, s := range snippets {
		if s.Program {
			programs++
		} else {
			fragments++
		}
	}
	require.Positive(t, programs, "README.md should hold a whole program")
	dir := t.TempDir()
	run := writeModule(t, root, dir, snippets)
	require.NotEmpty(t, run, "README.md's main example should be followed by its output")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := goCmd(t, ctx, dir, "build", "./...").CombinedOutput()
	require.NoError(t, err, "a snippet does not compile:\n%s", out)
	t.Logf("built %d programs and %d fragments", programs, fragments)

	for pkg, want := range run {
		runCtx, cancel := context.WithTimeout(ctx, time.Minute)
		cmd := goCmd(t, runCtx, dir, "run", pkg)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		require.NoError(t, err, "%s failed; stderr:\n%s", pkg, stderr.String())
		assert.Equal(t, want, stdout.String(), "what %s prints", pkg)
	}
}

// TestBrokenSnippetFails makes sure the build above can fail: a fragment
// that does not compile must make go build report it at its Markdown line.
func TestBrokenSnippetFails(t *testing.T) {
	root := moduleRoot(t)
	dir := t.TempDir()
	md := filepath.Join(dir, "BROKEN.md")
	snippets, err := Extract(md, "text\n\n```go\nvar n int = \"not a number\"\n_ = n\n```\n")
	require.NoError(t, err)
	sub := filepath.Join(dir, "mod")
	require.NoError(t, os.Mkdir(sub, 0o755))
	writeModule(t, root, sub, snippets)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := goCmd(t, ctx, sub, "build", "./...").CombinedOutput()
	require.Error(t, err, "a fragment that does not compile was built:\n%s", out)
	assert.Contains(t, string(out), "BROKEN.md:4", "the error names the Markdown line")
}

var (
	mdLink  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#+ +(.+)$`)
	notSlug = regexp.MustCompile(`[^a-z0-9 _-]`)
)

// anchors returns the GitHub-style anchors of md's headings.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(md, -1) {
		slug := notSlug.ReplaceAllString(strings.ToLower(strings.TrimSpace(m[1])), "")
		out[strings.ReplaceAll(slug, " ", "-")] = true
	}
	return out
}

// TestLinksResolve checks that every relative link of README.md and
// docs/*.md names a file of the checkout, and a heading of it when the link
// has an anchor.
func TestLinksResolve(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	for _, f := range pages(t, root) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			dest := f
			if path != "" {
				dest = filepath.Join(filepath.Dir(f), path)
			}
			body, err := os.ReadFile(dest)
			if !assert.NoError(t, err, "%s links to %s", f, target) {
				continue
			}
			if anchor != "" {
				assert.True(t, anchors(string(body))[anchor], "%s links to %s: no such heading", f, target)
			}
			checked++
		}
	}
	require.Positive(t, checked, "README.md should link to docs/")
}
