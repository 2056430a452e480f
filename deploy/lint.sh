#!/usr/bin/env bash
# make lint: every check that needs no running service, each reported by name.
#   1. gofmt         every tracked Go file formatted (lists the ones that are not)
#   2. go vet        dialq's module and deploy/lint's
#   3. staticcheck   the same two modules; installed by go install into the
#                    git-ignored tools folder (.dialq/tools) on first use
#   4. artifacts     deploy/lint's own tests (each check fails on its broken
#                    fixture), then the checks on deploy/compose.yaml,
#                    deploy/k8s/*.yaml and deploy/docker/*.Dockerfile
#                    (docs/deploy.md says what they check)
# Env: DIALQ_TOOLS_DIR (default <repo>/.dialq/tools),
#      DIALQ_STATICCHECK_VERSION (default v0.8.2).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
TOOLS_DIR=${DIALQ_TOOLS_DIR:-$REPO_ROOT/.dialq/tools}
STATICCHECK_VERSION=${DIALQ_STATICCHECK_VERSION:-v0.8.2}
STATICCHECK=$TOOLS_DIR/staticcheck
LINT_MODULE=$REPO_ROOT/deploy/lint

log() { printf '[lint] %s\n' "$*" >&2; }
die() { printf '[lint] ERROR: %s\n' "$*" >&2; exit 1; }

cd "$REPO_ROOT"
command -v go >/dev/null 2>&1 || die "go not found on PATH"

staticcheck_ok() { [[ -x $STATICCHECK ]] && "$STATICCHECK" -version 2>/dev/null | grep -qF "(${STATICCHECK_VERSION#v})"; }

install_staticcheck() {
	staticcheck_ok && return 0
	mkdir -p "$TOOLS_DIR"
	log "installing staticcheck $STATICCHECK_VERSION into $TOOLS_DIR (go install)"
	# Outside any module, so dialq's go.mod is left alone.
	(cd "$TOOLS_DIR" && GOBIN=$TOOLS_DIR go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION")
	staticcheck_ok || die "$STATICCHECK -version does not say $STATICCHECK_VERSION after install"
}

check_gofmt() {
	local bad
	bad=$(git ls-files -z '*.go' | xargs -0 gofmt -l)
	if [[ -n $bad ]]; then
		log "not gofmt-formatted (run: make fmt):"
		printf '  %s\n' $bad >&2
		return 1
	fi
}

check_vet() {
	go vet ./... && (cd "$LINT_MODULE" && go vet ./...)
}

check_staticcheck() {
	install_staticcheck
	"$STATICCHECK" ./... && (cd "$LINT_MODULE" && "$STATICCHECK" ./...)
}

check_artifacts() {
	(cd "$LINT_MODULE" && go test -count=1 ./... && go run . -root "$REPO_ROOT")
}

failed=()
for step in gofmt vet staticcheck artifacts; do
	log "--- $step"
	if "check_$step"; then
		log "$step: ok"
	else
		log "$step: FAILED"
		failed+=("$step")
	fi
done
if ((${#failed[@]})); then
	log "make lint: failed: ${failed[*]}"
	exit 1
fi
log "make lint: all passed (gofmt, vet, staticcheck $STATICCHECK_VERSION, artifacts)"
