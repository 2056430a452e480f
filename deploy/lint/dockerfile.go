package main

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Image is what a Dockerfile's final stage gives the container.
type Image struct {
	File   string
	Binary string            // the cmd/ its ENTRYPOINT runs
	Env    map[string]string // the final stage's ENV
	User   string
}

// CheckDockerfile parses file with BuildKit's parser and checks that it
// builds (every COPY --from names an earlier stage, base images pinned, no
// BuildKit lint warning) and runs right (the final stage's USER a numeric
// non-root UID, ENV names the binary reads, the HEALTHCHECK on a served
// path and port). It returns the final stage, or nil when file does not
// parse.
func CheckDockerfile(r *Report, file string, vars *Vars) *Image {
	data, err := os.ReadFile(file)
	if err != nil {
		r.fail(file, "%v", err)
		return nil
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		r.fail(file, "does not parse: %v", err)
		return nil
	}
	for _, w := range res.Warnings {
		r.fail(file, "line %d: %s", w.Location.Start.Line, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		r.fail(file, "line %d: BuildKit check %s: %s", line, rule, msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		r.fail(file, "%v", err)
		return nil
	}
	if len(stages) == 0 {
		r.fail(file, "no FROM")
		return nil
	}
	before := len(r.Problems)
	var names []string
	img := &Image{File: file, Env: map[string]string{}}
	var entry []string
	var health []string
	for i, st := range stages {
		final := i == len(stages)-1
		if !slices.Contains(names, strings.ToLower(st.BaseName)) {
			if err := checkPinned(st.BaseName); err != nil {
				r.fail(file, "FROM %s: %v", st.BaseName, err)
			}
		}
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From == "" {
					continue
				}
				if n, err := strconv.Atoi(c.From); err == nil {
					if n < 0 || n >= i {
						r.fail(file, "stage %d: COPY --from=%s names no earlier stage", i, c.From)
					}
				} else if !slices.Contains(names, strings.ToLower(c.From)) {
					r.fail(file, "stage %q: COPY --from=%s names no earlier stage (stages before it: %s)", st.Name, c.From, strings.Join(names, ", "))
				}
			case *instructions.RunCommand:
				checkCgoBuild(r, file, c.CmdLine, vars)
			case *instructions.UserCommand:
				if final {
					img.User = c.User
				}
			case *instructions.EnvCommand:
				if final {
					for _, kv := range c.Env {
						img.Env[kv.Key] = kv.Value
					}
				}
			case *instructions.EntrypointCommand:
				if final {
					entry = c.CmdLine
				}
			case *instructions.HealthCheckCommand:
				if final && c.Health != nil {
					health = c.Health.Test
				}
			}
		}
		names = append(names, strings.ToLower(st.Name))
	}
	if err := checkUser(img.User); err != nil {
		r.fail(file, "final stage: %v", err)
	}
	if len(entry) == 0 {
		r.fail(file, "final stage: no ENTRYPOINT")
		return img
	}
	img.Binary = path.Base(entry[0])
	if !slices.Contains(binaries, img.Binary) {
		r.fail(file, "final stage: ENTRYPOINT %s is none of the deployed binaries (%s)", entry[0], strings.Join(binaries, ", "))
		return img
	}
	if pkg := vars.Cgo[img.Binary]; pkg != "" {
		base := stages[len(stages)-1].BaseName
		if base == "scratch" || strings.Contains(base, "distroless/static") {
			r.fail(file, "final stage: FROM %s has no C library, but cmd/%s links cgo (%s)", base, img.Binary, pkg)
		}
	}
	var envNames []string
	for k := range img.Env {
		envNames = append(envNames, k)
	}
	slices.Sort(envNames)
	checkEnvNames(r, file, "ENV", img.Binary, envNames, vars)
	if len(health) == 0 {
		r.fail(file, "final stage: no HEALTHCHECK")
	}
	for _, u := range probeURLs(health) {
		if err := checkProbeURL(img.Binary, img.Env, u); err != nil {
			r.fail(file, "HEALTHCHECK: %v", err)
		}
	}
	if len(r.Problems) == before {
		r.ok("%s: %d stages, COPY --from, pinned bases, USER %s, ENV and HEALTHCHECK of cmd/%s", file, len(stages), img.User, img.Binary)
	}
	return img
}

// checkCgoBuild: a RUN that builds a binary with CGO_ENABLED=0 fails when
// that binary links cgo packages.
func checkCgoBuild(r *Report, file string, cmdLine []string, vars *Vars) {
	for _, step := range strings.Split(strings.Join(cmdLine, " "), "&&") {
		if !strings.Contains(step, "CGO_ENABLED=0") || !strings.Contains(step, "go build") {
			continue
		}
		for _, f := range strings.Fields(step) {
			b, ok := strings.CutPrefix(f, "./cmd/")
			if pkg := vars.Cgo[b]; ok && pkg != "" {
				r.fail(file, "RUN builds cmd/%s with CGO_ENABLED=0, but it links cgo (%s)", b, pkg)
			}
		}
	}
}

// checkUser: a numeric UID (a name needs /etc/passwd to mean anything, and
// runAsNonRoot can check only numbers) that is not root's.
func checkUser(user string) error {
	if user == "" {
		return fmt.Errorf("no USER: the container would run as the base image's user (root, mostly)")
	}
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	if err != nil {
		return fmt.Errorf("USER %s: give a numeric UID, not a name", user)
	}
	if n == 0 {
		return fmt.Errorf("USER %s is root", user)
	}
	return nil
}

// probeURLs are the http:// arguments of a health check's command.
func probeURLs(test []string) []string {
	var urls []string
	for _, a := range test {
		if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
			urls = append(urls, a)
		}
	}
	return urls
}
