package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The deployed binaries, by the name of their cmd/ folder.
var binaries = []string{"api", "worker"}

// pendingVars are variables a binary is about to read, from a branch not yet
// merged: DIALQ_WORKER_HTTP_ADDR (the worker's /healthz, /readyz and
// /metrics) comes with issue 10's metrics and health work. Once the source
// reads one, Run notes that its entry here can go.
var pendingVars = map[string]string{"DIALQ_WORKER_HTTP_ADDR": "worker"}

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
	Cgo   map[string]string
	Notes []string
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

// ReadVars finds the variables each binary reads in its own sources: every
// call of an envconf.Loader method that takes a variable's name (String,
// Int, Duration, Required, ...) and every os.Getenv or os.LookupEnv, in the
// packages of dialq's module that the binary imports (go list -deps).
func ReadVars(root string) (*Vars, error) {
	methods, err := loaderMethods(filepath.Join(root, "internal", "envconf", "envconf.go"))
	if err != nil {
		return nil, err
	}
	v := &Vars{ByBinary: map[string]map[string]bool{}, Cgo: map[string]string{}}
	// dialqctl is in both images: its build needs cgo or not, too.
	for _, b := range append(slices.Clone(binaries), "dialqctl") {
		files, cgo, err := moduleFiles(root, "./cmd/"+b)
		if err != nil {
			return nil, err
		}
		if cgo != "" {
			v.Cgo[b] = cgo
		}
		names := map[string]bool{}
		for _, f := range files {
			if err := readNames(f, methods, names); err != nil {
				return nil, err
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("found no environment variable read by cmd/%s: is %s dialq's repository?", b, root)
		}
		v.ByBinary[b] = names
	}
	for name, b := range pendingVars {
		if v.ByBinary[b][name] {
			v.Notes = append(v.Notes, fmt.Sprintf("cmd/%s reads %s now: drop it from pendingVars in deploy/lint/vars.go", b, name))
		}
		v.ByBinary[b][name] = true
	}
	return v, nil
}

// loaderMethods are the exported methods of envconf's Loader whose first
// parameter is a string: the variable's name.
func loaderMethods(file string) (map[string]bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("read envconf's Loader: %w", err)
	}
	m := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || !fn.Name.IsExported() || len(fn.Type.Params.List) == 0 {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); !ok || !isIdent(star.X, "Loader") {
			continue
		}
		if isIdent(fn.Type.Params.List[0].Type, "string") {
			m[fn.Name.Name] = true
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: no Loader method takes a variable's name", file)
	}
	return m, nil
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// moduleFiles lists the non-test Go files of dialq's own packages that pkg
// is built from, and the first package of its build that has cgo files.
func moduleFiles(root, pkg string) (files []string, cgo string, err error) {
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if and .CgoFiles (not .Standard)}}cgo{{"\t"}}{{.ImportPath}}{{"\n"}}{{end}}`+
			`{{if .Module}}{{if .Module.Main}}go{{"\t"}}{{.Dir}}{{"\t"}}{{join .GoFiles " "}} {{join .CgoFiles " "}}{{end}}{{end}}`, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("go list -deps %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.SplitN(line, "\t", 3)
		switch {
		case len(fields) == 2 && fields[0] == "cgo" && cgo == "":
			cgo = fields[1]
		case len(fields) == 3 && fields[0] == "go":
			for _, n := range strings.Fields(fields[2]) {
				files = append(files, filepath.Join(fields[1], n))
			}
		}
	}
	return files, cgo, nil
}

// readNames adds the variables file reads to names.
func readNames(file string, methods, names map[string]bool) error {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		return err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		osCall := isIdent(sel.X, "os") && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv")
		if !osCall && !methods[sel.Sel.Name] {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
				names[s] = true
			}
		}
		return true
	})
	return nil
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
