package testutil

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// CompileErrors builds src, the text of a main package that may import
// this module's packages, and returns the compiler's messages by line of
// src. The file is never written into the tree: go build -overlay places
// it in a directory of its own below the module root. It fails t if the
// go command cannot be found or fails for another reason than src. Tests
// use it to show that a misuse is a compile error.
func CompileErrors(t testing.TB, src string) map[int][]string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check what does not compile: %v", err)
	}
	out, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		t.Fatalf("go env GOMOD: %q, %v: not inside the module", out, err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	tmp := t.TempDir()
	file := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rel := "internal/testutil/compilecheck_" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(root, filepath.FromSlash(rel))
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(dir, "main.go"): file}})
	ovl := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovl, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	// -e: every error, not the first ten.
	cmd := exec.Command(gobin, "build", "-overlay", ovl, "-gcflags=-e", "-o", os.DevNull, "./"+rel)
	cmd.Dir = root
	msg, err := cmd.CombinedOutput()
	errs := map[int][]string{}
	for _, m := range compileError.FindAllStringSubmatch(string(msg), -1) {
		line, _ := strconv.Atoi(m[1])
		errs[line] = append(errs[line], m[2])
	}
	switch {
	case err == nil:
		return errs
	case len(errs) == 0:
		t.Fatalf("go build failed without a compile error in the program: %v\n%s", err, msg)
	}
	return errs
}

var compileError = regexp.MustCompile(`(?m)main\.go:(\d+):\d+: (.*)$`)

// OptionRoles describes, for a package whose options are typed by role,
// which role accepts which option, for CheckOptionRoles.
type OptionRoles struct {
	// Imports are the import paths the statements need.
	Imports []string
	// Roles maps a role's name to a statement that makes one, with %s
	// where the option goes: `_, _ = majordomo.NewClient("tcp://x", %s)`.
	Roles map[string]string
	// Options maps an expression making an option to the names of the
	// roles that accept it.
	Options map[string][]string
}

// CheckOptionRoles compiles every role with every option, each in a
// statement of its own, and fails t unless exactly the statements giving
// a role an option it does not accept are compile errors.
func CheckOptionRoles(t testing.TB, m OptionRoles) {
	t.Helper()
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n")
	for _, imp := range m.Imports {
		b.WriteString("\t" + strconv.Quote(imp) + "\n")
	}
	b.WriteString(")\n\nfunc main() {\n")
	line := strings.Count(b.String(), "\n") + 1
	type use struct {
		role, opt string
		ok        bool
	}
	uses := map[int]use{}
	for _, role := range sortedKeys(m.Roles) {
		for _, opt := range sortedKeys(m.Options) {
			uses[line] = use{role, opt, slices.Contains(m.Options[opt], role)}
			b.WriteString("\t" + fmt.Sprintf(m.Roles[role], opt) + "\n")
			line++
		}
	}
	b.WriteString("}\n")
	errs := CompileErrors(t, b.String())
	for l, u := range uses {
		switch {
		case u.ok && len(errs[l]) > 0:
			t.Errorf("%s with %s: want it to compile, got %q", u.role, u.opt, errs[l])
		case !u.ok && len(errs[l]) == 0:
			t.Errorf("%s with %s: want a compile error, it compiles", u.role, u.opt)
		}
		delete(errs, l)
	}
	for l, e := range errs {
		t.Errorf("line %d, outside the uses: %q\n%s", l, e, b.String())
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// OptionEffects fails t for each named option in opts that leaves the
// configuration build makes from it as build makes it with no options, or
// that build refuses. Configurations are compared as %+v prints them, so
// that a function-valued field counts as set when it holds another
// function.
func OptionEffects[O, C any](t testing.TB, opts map[string]O, build func([]O) (C, error)) {
	t.Helper()
	def, err := build(nil)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, name := range sortedKeys(opts) {
		c, err := build([]O{opts[name]})
		switch {
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case fmt.Sprintf("%+v", c) == fmt.Sprintf("%+v", def):
			t.Errorf("%s changes nothing: %+v", name, c)
		}
	}
}
