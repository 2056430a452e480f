package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEnvDocsUpToDate fails when the README's Configuration table or
// .env.example differ from what the binaries' config readers read: a
// variable read and not listed, listed and not read, or a default that
// changed. go run ./cmd/dialqctl env-docs rewrites both.
func TestEnvDocsUpToDate(t *testing.T) {
	t.Parallel()
	want, err := envFiles("../..")
	require.NoError(t, err, "every variable a binary reads is described in internal/envconf.Vars, and every one described is read")
	for path, b := range want {
		have, err := os.ReadFile(path)
		require.NoError(t, err)
		if line, w, h, differ := firstDiff(string(b), string(have)); differ {
			t.Errorf("%s is out of date (line %d: want %q, have %q): run go run ./cmd/dialqctl env-docs", path, line, w, h)
		}
	}
}

// firstDiff is the first line where want and have differ, numbered from 1.
func firstDiff(want, have string) (line int, w, h string, differ bool) {
	wl, hl := strings.Split(want, "\n"), strings.Split(have, "\n")
	for i := 0; i < max(len(wl), len(hl)); i++ {
		var a, b string
		if i < len(wl) {
			a = wl[i]
		}
		if i < len(hl) {
			b = hl[i]
		}
		if a != b || (i >= len(wl)) != (i >= len(hl)) {
			return i + 1, a, b, true
		}
	}
	return 0, "", "", false
}

// envReaders are the files that may read the environment other than
// through an envconf.Loader: the Loader itself, the test kit (the stack's
// variables) and dialqbench, which make bench starts with the stack's
// variables and which takes its settings as flags.
var envReaders = []string{"internal/envconf/", "internal/testkit/", "cmd/dialqbench/"}

// TestNoEnvironmentReadBesideTheLoader: a variable read with os.Getenv
// would be missing from -h, the README's table and .env.example, so the
// binaries' code reads none that way.
func TestNoEnvironmentReadBesideTheLoader(t *testing.T) {
	t.Parallel()
	root := "../.."
	fset := token.NewFileSet()
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			for _, p := range envReaders {
				if strings.HasPrefix(filepath.ToSlash(rel), p) {
					return nil
				}
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && (x.Name == "os" || x.Name == "syscall") &&
					(sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv" || sel.Sel.Name == "Environ") {
					t.Errorf("%s: %s.%s: read settings through an envconf.Loader, so -h and the README list them",
						fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
				}
				return true
			})
			return nil
		})
		require.NoError(t, err)
	}
}
