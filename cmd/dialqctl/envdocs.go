package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// binaries are dialq's programs whose settings the README's table and
// .env.example list. dialqbench is not among them: make bench starts it
// with the stack's variables and it takes the rest as flags (dialqbench -h).
func binaries() []envconf.Binary {
	return []envconf.Binary{app.APIBinary, app.WorkerBinary, ctlBinary, sipdouble.PhonesimBinary}
}

// envDocs is dialqctl env-docs: it regenerates the README's Configuration
// table and .env.example, or with -check only says whether they are up to
// date.
func envDocs(args []string) error {
	fs := flag.NewFlagSet("env-docs", flag.ExitOnError)
	root := fs.String("root", ".", "the repository's root, where README.md and .env.example are")
	check := fs.Bool("check", false, "change nothing; fail if README.md's table or .env.example is out of date")
	fs.Parse(args)
	want, err := envFiles(*root)
	if err != nil {
		return err
	}
	var stale []string
	for path, b := range want {
		have, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		if bytes.Equal(have, b) {
			continue
		}
		stale = append(stale, path)
		if !*check {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return err
			}
			fmt.Println("wrote", path)
		}
	}
	if *check && len(stale) > 0 {
		return fmt.Errorf("%v out of date: run go run ./cmd/dialqctl env-docs", stale)
	}
	return nil
}

// envFiles is what README.md and .env.example under root should hold.
func envFiles(root string) (map[string][]byte, error) {
	entries, err := envconf.Collect(binaries())
	if err != nil {
		return nil, err
	}
	readmePath := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		return nil, err
	}
	var table, example bytes.Buffer
	envconf.Table(&table, entries)
	envconf.EnvExample(&example, entries)
	newReadme, err := envconf.ReplaceTable(string(readme), table.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", readmePath, err)
	}
	return map[string][]byte{readmePath: []byte(newReadme), filepath.Join(root, ".env.example"): example.Bytes()}, nil
}
