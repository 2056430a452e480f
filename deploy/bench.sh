#!/usr/bin/env bash
# make bench: start the local stack, build cmd/dialqbench and run every
# benchmark; the figures are printed and written into docs/benchmarks.md.
# Extra flags for dialqbench go in DIALQ_BENCH_ARGS, e.g.
#   DIALQ_BENCH_ARGS='-only accept -accept-duration 5s' make bench
# (a partial run prints its figures but leaves docs/benchmarks.md alone).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${DIALQ_STATE_DIR:-$PWD/.dialq}

bash deploy/stack.sh up
set -a
# shellcheck source=/dev/null
. "$STATE/stack.env"
set +a

mkdir -p "$STATE/bin" "$STATE/logs"
go build -o "$STATE/bin/dialqbench" ./cmd/dialqbench
# shellcheck disable=SC2086
exec "$STATE/bin/dialqbench" -docs docs/benchmarks.md -json "$STATE/logs/bench.json" ${DIALQ_BENCH_ARGS:-}
