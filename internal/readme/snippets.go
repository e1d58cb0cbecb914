// Package readme keeps the Go in the project's prose honest: its test
// compiles every ```go block of README.md and docs/*.md, and runs the
// README's main example and compares what it prints.
//
// The convention, for whoever writes a snippet:
//
//   - A block whose first line is "package main" is a whole program. It is
//     built on its own, as it stands.
//   - A program followed by a ```text block (with only blank lines between)
//     is also run, and must print exactly that block, within a minute.
//   - Any other block is a fragment: the body of a function
//     func(ctx context.Context) error, so ctx is in scope and "return err"
//     works. A fragment declares what it uses (types too: Go allows type
//     declarations inside a function) and uses what it declares. Imports
//     are added for the packages it names, from the table in Imports.
//
// The test also checks that every relative link of those pages names a
// file of the checkout (and a heading of it, for a link with an anchor).
//
// All snippets go into one temporary module that replaces
// github.com/zmqkit/zmqkit with this checkout, built with one go build;
// a compiler error names the Markdown file and line.
package readme

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Snippet is one ```go block of a Markdown file.
type Snippet struct {
	File    string // the Markdown file, as given to Extract
	Line    int    // the line of the block's first code line (1-based)
	Code    string // the block's text, without the fences
	Program bool   // it starts with "package main"
	// Output is the ```text block that follows a program, if any: what
	// the program must print. HasOutput tells an empty one from none.
	Output    string
	HasOutput bool
}

// Extract returns the ```go blocks of the Markdown text md, read from file.
// An unterminated fence is an error naming the line it opened on.
func Extract(file, md string) ([]Snippet, error) {
	type block struct {
		info  string
		line  int // first code line
		code  string
		after int // index of the line after the closing fence
	}
	lines := strings.Split(md, "\n")
	var blocks []block
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(t, "```") {
			continue
		}
		info := strings.TrimSpace(strings.TrimPrefix(t, "```"))
		start := i
		var b strings.Builder
		closed := false
		for i++; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) == "```" {
				closed = true
				break
			}
			b.WriteString(lines[i])
			b.WriteByte('\n')
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: code fence never closed", file, start+1)
		}
		blocks = append(blocks, block{info: firstWord(info), line: start + 2, code: b.String(), after: i + 1})
	}
	var out []Snippet
	for k, b := range blocks {
		if b.info != "go" {
			continue
		}
		s := Snippet{File: file, Line: b.line, Code: b.code}
		s.Program = strings.HasPrefix(strings.TrimSpace(b.code), "package main")
		if s.Program && k+1 < len(blocks) && blocks[k+1].info == "text" && onlyBlank(lines, b.after, blocks[k+1].line-2) {
			s.Output, s.HasOutput = blocks[k+1].code, true
		}
		out = append(out, s)
	}
	return out, nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// onlyBlank reports whether lines[from:to] are all blank.
func onlyBlank(lines []string, from, to int) bool {
	for i := from; i < to; i++ {
		if strings.TrimSpace(lines[i]) != "" {
			return false
		}
	}
	return true
}

// Imports maps the package names a fragment may use to their import paths.
var Imports = map[string]string{
	"context":   "context",
	"errors":    "errors",
	"fmt":       "fmt",
	"http":      "net/http",
	"log":       "log",
	"slog":      "log/slog",
	"os":        "os",
	"strings":   "strings",
	"time":      "time",
	"codec":     "github.com/zmqkit/zmqkit/codec",
	"msgpack":   "github.com/zmqkit/zmqkit/codec/msgpack",
	"sockets":   "github.com/zmqkit/zmqkit/sockets",
	"devices":   "github.com/zmqkit/zmqkit/devices",
	"pipeline":  "github.com/zmqkit/zmqkit/patterns/pipeline",
	"reliable":  "github.com/zmqkit/zmqkit/patterns/reliable",
	"pirate":    "github.com/zmqkit/zmqkit/patterns/pirate",
	"majordomo": "github.com/zmqkit/zmqkit/patterns/majordomo",
	"pubsub":    "github.com/zmqkit/zmqkit/patterns/pubsub",
	"rpc":       "github.com/zmqkit/zmqkit/patterns/rpc",
}

var qualified = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.[A-Za-z_]`)

// Fragment returns a Go file of package pkg that holds the fragment s as
// the body of a function named name, with the imports it needs and a
// //line directive so that errors point into s.File. abs is the path the
// directive names.
func Fragment(pkg, name, abs string, s Snippet) string {
	need := map[string]bool{"context": true}
	for _, m := range qualified.FindAllStringSubmatch(s.Code, -1) {
		if _, ok := Imports[m[1]]; ok {
			need[m[1]] = true
		}
	}
	paths := make([]string, 0, len(need))
	for n := range need {
		paths = append(paths, Imports[n])
	}
	sort.Strings(paths)
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\nimport (\n", pkg)
	for _, p := range paths {
		fmt.Fprintf(&b, "\t%q\n", p)
	}
	fmt.Fprintf(&b, ")\n\nfunc %s(ctx context.Context) error {\n//line %s:%d\n%s\n\treturn nil\n}\n", name, abs, s.Line, s.Code)
	return b.String()
}

// Program returns the program s with a //line directive in front, so that
// errors point into s.File.
func Program(abs string, s Snippet) string {
	return fmt.Sprintf("//line %s:%d\n%s", abs, s.Line, s.Code)
}
