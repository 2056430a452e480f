#!/usr/bin/env bash
# make test: start the local stack (installing what is missing), vet, run
# every test against the stack, and print go test's results and a summary
# line. The full verbose log is kept in .dialq/logs/test.log.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${DIALQ_STATE_DIR:-$PWD/.dialq}

bash deploy/stack.sh up
# The e2e tests place calls with the Node example agent: install it here, where
# its output shows, rather than inside a test.
bash deploy/node-agent.sh install
set -a
# shellcheck source=/dev/null
. "$STATE/stack.env"
set +a

echo "== go vet"
go vet ./...

echo "== go test (log: $STATE/logs/test.log)"
mkdir -p "$STATE/logs"
log=$STATE/logs/test.log
# What tests keep for a person to look at (t.ArtifactDir: the screenshot of
# Asynqmon in the browser), from this run only.
artifacts=$STATE/test-artifacts
rm -rf "$artifacts"
mkdir -p "$artifacts"
set +e
go test -count=1 -timeout 20m -v -artifacts -outputdir "$artifacts" ${DIALQ_TEST_ARGS:-} ./... >"$log" 2>&1
rc=$?
set -e

# Package lines and every failure, then the counts.
grep -E '^(ok|FAIL|panic:|---)|^\s+--- FAIL' "$log" || true
if [[ $rc -ne 0 ]]; then
	echo "== failures in detail"
	awk '/^=== RUN/{buf=""} {buf=buf"\n"$0} /--- FAIL/{print buf; buf=""}' "$log" | tail -n 400
	grep -E '^(panic:|fatal error:)' -A 40 "$log" | head -n 120 || true
	# Last, where a shortened log still shows it: each failure's own words.
	# A parallel test's messages follow its --- FAIL line, after the part
	# above; a failing test's stack log is left out here.
	echo "== why they failed"
	awk '/^[ \t]*--- FAIL/ {print; next}
		/^[ \t]+[^ \t]+_test\.go:[0-9]+: / {print; more = 1; next}
		more && /^ +\t/ {print; next}
		{more = 0}' "$log" | head -n 200
fi
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
echo "$passed passed, $failed failed, $skipped skipped"
echo "test artifacts (screenshots): $artifacts"
exit $rc
