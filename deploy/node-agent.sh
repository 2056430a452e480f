#!/usr/bin/env bash
# dialq's example agent on LiveKit Agents for Node.js (examples/node-agent).
#
#   deploy/node-agent.sh install   install Node.js (apt) if missing, then `npm ci` into
#                                  examples/node-agent/node_modules (git-ignored) when it is
#                                  missing or package-lock.json changed since the last install
#   deploy/node-agent.sh run ARGS  install, then exec `node agent.js ARGS` (default: start)
#
# The agent needs LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET; see the head of
# examples/node-agent/agent.js for its DIALQ_AGENT_* settings.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
AGENT_DIR=$REPO_ROOT/examples/node-agent
MODULES=$AGENT_DIR/node_modules
STAMP=$MODULES/.dialq-installed # sha256 of the package-lock.json installed
LOCK=$AGENT_DIR/.install.lock   # outside node_modules, which npm ci empties
NODE_MAJOR_MIN=20

log() { printf '[node-agent] %s\n' "$*" >&2; }
die() { printf '[node-agent] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

apt_install() { # apt_install PKG...: as deploy/stack.sh tools does
	local sudo=()
	if ! is_root; then
		command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: $*"
		sudo=(sudo)
	fi
	log "installing apt packages: $*"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

node_tools() {
	local pkgs=()
	command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
	command -v npm >/dev/null 2>&1 || pkgs+=(npm)
	if ((${#pkgs[@]})); then
		apt_install "${pkgs[@]}"
	fi
	local v
	v=$(node --version) || die "node --version fails"
	v=${v#v}
	# @livekit/agents needs Node 20 (sharp, one of its dependencies, wants >= 20.9).
	# Debian 12's own nodejs is 18: install Node 20 from another source, then run this again.
	((${v%%.*} >= NODE_MAJOR_MIN)) || die "node $v is too old: the agent needs Node >= $NODE_MAJOR_MIN"
}

lock_sum() { sha256sum "$AGENT_DIR/package-lock.json" | cut -d' ' -f1; }

cmd_install() {
	node_tools
	# One install at a time (parallel tests, a `make run` starting): the others wait.
	exec 8>"$LOCK"
	flock -w 900 8 || die "another install holds $LOCK"
	local want
	want=$(lock_sum)
	if [[ -f $STAMP && $(cat "$STAMP") == "$want" && -d $MODULES/@livekit/agents ]]; then
		log "node modules: present (node $(node --version), package-lock.json unchanged)"
		return 0
	fi
	log "installing the agent's node modules into $MODULES (npm ci, about a minute cold)"
	rm -f "$STAMP"
	(cd "$AGENT_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2 || die "npm ci failed in $AGENT_DIR"
	echo "$want" >"$STAMP"
	log "node modules: installed"
}

cmd_run() {
	cmd_install
	exec 8>&-
	cd "$AGENT_DIR"
	exec node agent.js "${@:-start}"
}

case ${1:-} in
install) cmd_install ;;
run)
	shift
	cmd_run "$@"
	;;
*)
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
