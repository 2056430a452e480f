package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The deployed binaries, by the name of their cmd/ folder.
var binaries = []string{"api", "worker"}

// served is what each binary's HTTP server answers for probes, and the
// variable that sets its address: internal/httpapi/server.go for the API,
// the worker's health server for the worker.
var served = map[string]struct {
	AddrVar string
	Paths   []string
}{
	"api":    {AddrVar: "DIALQ_API_ADDR", Paths: []string{"/healthz", "/readyz", "/metrics"}},
	"worker": {AddrVar: "DIALQ_WORKER_HTTP_ADDR", Paths: []string{"/healthz", "/readyz", "/metrics"}},
}

var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// Vars is which environment variables each binary reads, and which
// binaries link cgo packages.
type Vars struct {
	ByBinary map[string]map[string]bool
	// Cgo is, for a binary that needs cgo to build, one package of its that
	// has cgo files (the SIP bridge's Opus, say).
	Cgo map[string]string
}

// Reads says whether binary reads name.
func (v *Vars) Reads(binary, name string) bool { return v.ByBinary[binary][name] }

// ReadByAny says whether some deployed binary reads name.
func (v *Vars) ReadByAny(name string) bool {
	for _, b := range binaries {
		if v.ByBinary[b][name] {
			return true
		}
	}
	return false
}

// ReadVars reads which variables each binary reads from the README's
// settings table: cmd/dialqctl env-docs writes it from what the binaries'
// config readers ask for when they run (internal/envconf records every
// variable), and a test of dialq's fails while it is out of date, so it is
// the binaries' own account, not a guess from their sources. Which binaries
// need cgo comes from their builds (go list -deps).
func ReadVars(root string) (*Vars, error) {
	v := &Vars{ByBinary: map[string]map[string]bool{}, Cgo: map[string]string{}}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, err
	}
	table, ok := between(string(readme), "<!-- env-table:begin", "<!-- env-table:end -->")
	if !ok {
		return nil, fmt.Errorf("README.md has no settings table between its env-table markers")
	}
	for line := range strings.SplitSeq(table, "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) < 4 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[0]), "`")
		if !envName.MatchString(name) {
			continue
		}
		for _, b := range strings.Split(cells[len(cells)-1], ",") {
			b = strings.TrimSpace(b)
			if v.ByBinary[b] == nil {
				v.ByBinary[b] = map[string]bool{}
			}
			v.ByBinary[b][name] = true
		}
	}
	// dialqctl is in both images: its build needs cgo or not, too.
	for _, b := range append(slices.Clone(binaries), "dialqctl") {
		if len(v.ByBinary[b]) == 0 {
			return nil, fmt.Errorf("README.md's settings table names no variable read by %s: is %s dialq's repository?", b, root)
		}
		cgo, err := cgoPackage(root, "./cmd/"+b)
		if err != nil {
			return nil, err
		}
		if cgo != "" {
			v.Cgo[b] = cgo
		}
	}
	return v, nil
}

// between is the text of s from the line starting with begin to end.
func between(s, begin, end string) (string, bool) {
	i := strings.Index(s, begin)
	if i < 0 {
		return "", false
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		return "", false
	}
	return s[i : i+j], true
}

// cgoPackage is the first package of pkg's build that has cgo files, or
// "" when it builds without cgo.
func cgoPackage(root, pkg string) (string, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{"\n"}}{{end}}`, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -deps %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first, nil
}

// Queues are the asynq queues the workers serve, by internal/queue's
// defaults: the dial queue and its campaign queue.
type Queues struct {
	Default        string // queue.QueueCalls
	CampaignSuffix string // queue.CampaignQueueSuffix
}

// Names are the queue names a worker with env serves (DIALQ_QUEUE,
// DIALQ_CAMPAIGN_QUEUE, DIALQ_WEBHOOK_QUEUE, or their defaults).
func (q Queues) Names(env map[string]string) []string {
	dial := q.Default
	if v := env["DIALQ_QUEUE"]; v != "" {
		dial = v
	}
	campaigns := dial + q.CampaignSuffix
	if v := env["DIALQ_CAMPAIGN_QUEUE"]; v != "" {
		campaigns = v
	}
	names := []string{dial, campaigns}
	if v := env["DIALQ_WEBHOOK_QUEUE"]; v != "" {
		names = append(names, v)
	}
	return names
}

// ReadQueues reads the queue names' constants from internal/queue.
func ReadQueues(root string) (Queues, error) {
	file := filepath.Join(root, "internal", "queue", "tasks.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		return Queues{}, fmt.Errorf("read the queue names: %w", err)
	}
	consts := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[n.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	q := Queues{Default: consts["QueueCalls"], CampaignSuffix: consts["CampaignQueueSuffix"]}
	if q.Default == "" || q.CampaignSuffix == "" {
		return Queues{}, fmt.Errorf("%s: no QueueCalls or CampaignQueueSuffix string constant", file)
	}
	return q, nil
}
