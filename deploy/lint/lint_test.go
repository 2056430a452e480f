package main

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	readOnce sync.Once
	vars     *Vars
	queues   Queues
	readErr  error
)

// checkTree is Run, with the sources read once for every test.
func checkTree(t *testing.T, tree Tree) *Report {
	t.Helper()
	readOnce.Do(func() {
		if vars, readErr = ReadVars(tree.Root); readErr == nil {
			queues, readErr = ReadQueues(tree.Root)
		}
	})
	require.NoError(t, readErr)
	return check(tree, vars, queues)
}

func repoTree(t *testing.T) Tree {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return RealTree(root)
}

// replace swaps the file of files with base's name for fixture.
func replace(t *testing.T, files []string, fixture string) []string {
	t.Helper()
	out := make([]string, len(files))
	copy(out, files)
	for i, f := range out {
		if filepath.Base(f) == filepath.Base(fixture) {
			out[i] = fixture
			return out
		}
	}
	t.Fatalf("no real file named like %s", fixture)
	return nil
}

func TestRealArtifactsPass(t *testing.T) {
	tree := repoTree(t)
	r, err := Run(tree)
	require.NoError(t, err)
	require.Empty(t, r.Problems)
	require.NotEmpty(t, tree.Manifests)
	require.Len(t, tree.Dockerfiles, 2)
	// Every artifact was looked at: one line per Dockerfile, the compose
	// file, the manifests' decoding and their checks.
	require.Len(t, r.Checked, len(tree.Dockerfiles)+3, strings.Join(r.Checked, "\n"))
}

func TestVarsComeFromTheSources(t *testing.T) {
	vars, err := ReadVars(repoTree(t).Root)
	require.NoError(t, err)
	// As the README's generated table says, from what each binary reads.
	require.True(t, vars.Reads("api", "DIALQ_WAIT_MAX"))
	require.True(t, vars.Reads("worker", "DIALQ_DRAIN_TIMEOUT"))
	require.True(t, vars.Reads("api", "REDIS_ADDR"))
	require.True(t, vars.Reads("worker", "REDIS_ADDR"))
	require.False(t, vars.Reads("api", "DIALQ_DRAIN_TIMEOUT"), "the API has no bridge")
	require.False(t, vars.ReadByAny("DIALQ_NO_SUCH_VARIABLE"))
	// The bridge's Opus and SoX come in through internal/app, into both.
	require.NotEmpty(t, vars.Cgo["worker"])
	require.NotEmpty(t, vars.Cgo["api"])
}

// Each check fails on its broken fixture (testdata/<check>/), the rest of the
// tree being the real one.
func TestEachCheckFailsOnItsFixture(t *testing.T) {
	cases := []struct {
		fixture string // under testdata/
		want    string // in one of the problems
	}{
		// compose
		{"compose-schema/compose.yaml", "the Compose loader refuses it"},
		{"compose-redis-flags/compose.yaml", "--maxmemory-policy noeviction"},
		{"compose-env-name/compose.yaml", "sets DIALQ_WAIT_MAXIMUM, which cmd/api does not read"},
		{"compose-healthcheck-port/compose.yaml", "probes port 9090, but the api listens on 8080"},
		{"compose-depends/compose.yaml", "service worker: does not wait for redis (its REDIS_ADDR) with condition service_healthy"},
		{"compose-grace/compose.yaml", "stop_grace_period: grace period 2m0s is not longer than"},
		{"compose-unpinned/compose.yaml", `service postgres: image "postgres:latest": pin a tag other than latest`},
		// Kubernetes
		{"k8s-strict/api.yaml", `document 1 (Deployment): error unmarshaling JSON: while decoding JSON: json: unknown field "livenesProbe"`},
		{"k8s-probe-path/api.yaml", "readinessProbe: probes /ready, which the api does not serve"},
		{"k8s-probe-port/worker.yaml", "livenessProbe: port 8080 is none of container worker's ports"},
		{"k8s-grace/worker.yaml", "terminationGracePeriodSeconds: grace period 2m0s is not longer than DIALQ_SHUTDOWN_TIMEOUT + DIALQ_DRAIN_TIMEOUT (2m45s)"},
		{"k8s-env-name/config.yaml", "ConfigMap dialq-config: key DIALQ_LOGLEVEL, which envFrom makes a variable, is none that a dialq binary reads"},
		{"k8s-rtp-range/worker.yaml", `"30000-31999" overlaps Kubernetes' NodePort range`},
		{"k8s-service-target/worker.yaml", "Service dialq-worker: port 9091 targets metrics"},
		{"k8s-pdb/api.yaml", "minAvailable 2 with 2 replicas of dialq-api blocks every node drain"},
		{"k8s-nonroot/api.yaml", "set securityContext.runAsUser to the image's non-root UID"},
		{"k8s-keda-strict/keda.yaml", `document 1 (ScaledObject): error unmarshaling JSON: while decoding JSON: json: unknown field "minReplicas"`},
		{"k8s-keda-list/keda.yaml", `listName "asynq:calls:pending" is not the pending list of a queue the workers serve`},
		{"k8s-keda-min/keda.yaml", "minReplicaCount must be at least 1"},
		{"k8s-keda-env/keda.yaml", "addressFromEnv names REDIS_URL, which dialq-worker's container does not set"},
		// Dockerfiles
		{"docker-copy-from/api.Dockerfile", "COPY --from=builder names no earlier stage"},
		{"docker-root/worker.Dockerfile", "final stage: USER 0:0 is root"},
		{"docker-user-name/worker.Dockerfile", "USER dialq: give a numeric UID"},
		{"docker-unpinned/api.Dockerfile", `FROM golang: image "golang" has no tag`},
		{"docker-env/api.Dockerfile", "sets DIALQ_API_ADR, which cmd/api does not read"},
		{"docker-healthcheck/worker.Dockerfile", "HEALTHCHECK: probes /health, which the worker does not serve"},
		{"docker-cgo/api.Dockerfile", "RUN builds cmd/api with CGO_ENABLED=0, but it links cgo"},
		{"docker-static-base/worker.Dockerfile", "final stage: FROM gcr.io/distroless/static-debian12:nonroot has no C library, but cmd/worker links cgo"},
	}
	for _, c := range cases {
		t.Run(filepath.Dir(c.fixture), func(t *testing.T) {
			t.Parallel()
			tree := repoTree(t)
			fixture, err := filepath.Abs(filepath.Join("testdata", c.fixture))
			require.NoError(t, err)
			switch {
			case strings.HasSuffix(c.fixture, "compose.yaml"):
				tree.Compose = fixture
			case strings.HasSuffix(c.fixture, ".Dockerfile"):
				tree.Dockerfiles = replace(t, tree.Dockerfiles, fixture)
			default:
				tree.Manifests = replace(t, tree.Manifests, fixture)
			}
			r := checkTree(t, tree)
			require.NotEmpty(t, r.Problems, "the fixture passes")
			all := strings.Join(r.Problems, "\n")
			t.Log(all)
			require.Contains(t, all, c.want)
			require.Contains(t, all, fixture, "the problem names the fixture")
		})
	}
}
