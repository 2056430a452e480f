// Command lint checks dialq's deployment artifacts offline: the compose file
// through the Compose specification's own loader, the Kubernetes manifests
// decoded strictly into the Kubernetes and KEDA Go types, the Dockerfiles
// through BuildKit's parser, and the rules that tie them to the binaries
// (variables they read, ports and paths they serve, the worker's drain).
// `make lint` runs it; docs/deploy.md lists what it checks.
//
//	go -C deploy/lint run . -root ../..
//
// It lives in a module of its own so that the Compose, Kubernetes, KEDA and
// BuildKit modules stay out of dialq's go.mod.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", "../..", "the dialq repository's root")
	flag.Parse()
	abs, err := filepath.Abs(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lint:", err)
		os.Exit(2)
	}
	r, err := Run(RealTree(abs))
	if err != nil {
		fmt.Fprintln(os.Stderr, "lint:", err)
		os.Exit(2)
	}
	for _, ok := range r.Checked {
		fmt.Println("ok:", ok)
	}
	if len(r.Problems) > 0 {
		for _, p := range r.Problems {
			fmt.Fprintln(os.Stderr, "FAIL:", p)
		}
		fmt.Fprintf(os.Stderr, "lint: %d problem(s) in the deployment artifacts\n", len(r.Problems))
		os.Exit(1)
	}
}

// Tree says where the artifacts are. Tests point one part of it at a broken
// fixture and keep the rest real.
type Tree struct {
	Root        string   // the repository: its README's settings table says which variables the binaries read
	Compose     string   // the compose file
	Manifests   []string // Kubernetes manifest files
	Dockerfiles []string // Dockerfiles, one image each
}

// RealTree is the repository's own artifacts.
func RealTree(root string) Tree {
	manifests, _ := filepath.Glob(filepath.Join(root, "deploy", "k8s", "*.yaml"))
	dockerfiles, _ := filepath.Glob(filepath.Join(root, "deploy", "docker", "*.Dockerfile"))
	return Tree{
		Root:        root,
		Compose:     filepath.Join(root, "deploy", "compose.yaml"),
		Manifests:   manifests,
		Dockerfiles: dockerfiles,
	}
}

// Report is what Run found.
type Report struct {
	Problems []string // each a file and what is wrong in it
	Checked  []string // what passed, one line each
}

func (r *Report) fail(file, format string, args ...any) {
	r.Problems = append(r.Problems, file+": "+fmt.Sprintf(format, args...))
}

func (r *Report) ok(format string, args ...any) {
	r.Checked = append(r.Checked, fmt.Sprintf(format, args...))
}

// Run checks every artifact of t. Its error is for a repository it cannot
// read at all (no Go sources); problems in the artifacts go to the Report.
func Run(t Tree) (*Report, error) {
	vars, err := ReadVars(t.Root)
	if err != nil {
		return nil, err
	}
	queues, err := ReadQueues(t.Root)
	if err != nil {
		return nil, err
	}
	return check(t, vars, queues), nil
}

// check is Run with the binaries' variables and queues already read.
func check(t Tree, vars *Vars, queues Queues) *Report {
	r := &Report{}
	if len(t.Dockerfiles) == 0 {
		r.fail(filepath.Join(t.Root, "deploy", "docker"), "no *.Dockerfile")
	}
	images := map[string]*Image{}
	for _, f := range t.Dockerfiles {
		if img := CheckDockerfile(r, f, vars); img != nil {
			images[img.Binary] = img
		}
	}
	CheckCompose(r, t.Compose, vars, images)
	if len(t.Manifests) == 0 {
		r.fail(filepath.Join(t.Root, "deploy", "k8s"), "no *.yaml manifests")
	}
	CheckManifests(r, t.Manifests, vars, queues, images)
	return r
}
