#!/usr/bin/env bash
# dialq local stack: PostgreSQL, Redis and livekit-server, bound to 127.0.0.1 only.
#
#   deploy/stack.sh tools    install what is missing (apt packages, livekit-server)
#   deploy/stack.sh up       tools + start every service that is not running; writes stack.env
#   deploy/stack.sh down     stop what `up` started, by the PIDs in the pid files
#   deploy/stack.sh status   one line per service; exit 1 if any service is stopped
#   deploy/stack.sh env      print <state>/stack.env (eval "$(deploy/stack.sh env)")
#
# All state lives in one folder (default <repo>/.dialq, override DIALQ_STATE_DIR):
#   pg/ redis/ (data), logs/*.log, run/*.pid, bin/ (livekit-server), livekit.yaml, stack.env
#
# Ports (env overrides): DIALQ_PG_PORT=55432 DIALQ_REDIS_PORT=56379 DIALQ_LIVEKIT_PORT=57880
#   DIALQ_LIVEKIT_RTC_PORT_START=57900 DIALQ_LIVEKIT_RTC_PORT_END=57999
# Timeouts: DIALQ_STACK_TIMEOUT=60 (seconds to wait for each service to become ready / stop).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

STATE_DIR=${DIALQ_STATE_DIR:-$REPO_ROOT/.dialq}
PG_PORT=${DIALQ_PG_PORT:-55432}
REDIS_PORT=${DIALQ_REDIS_PORT:-56379}
LIVEKIT_PORT=${DIALQ_LIVEKIT_PORT:-57880}
LIVEKIT_RTC_PORT_START=${DIALQ_LIVEKIT_RTC_PORT_START:-57900}
LIVEKIT_RTC_PORT_END=${DIALQ_LIVEKIT_RTC_PORT_END:-57999}
LIVEKIT_VERSION=${DIALQ_LIVEKIT_VERSION:-v1.13.5}
# livekit-server posts its webhooks (participant left, room finished: the
# end of a LiveKit SIP call) to make run's API and to the address the e2e
# tests' webhook test listens on.
API_ADDR=${DIALQ_API_ADDR:-127.0.0.1:58080}
TEST_WEBHOOK_ADDR=${DIALQ_TEST_WEBHOOK_ADDR:-127.0.0.1:57871}
TIMEOUT=${DIALQ_STACK_TIMEOUT:-60}

HOST=127.0.0.1
DB_NAME=dialq
DB_USER=dialq
DB_PASSWORD=dialq
PG_SUPERUSER=postgres
LIVEKIT_API_KEY=devkey
LIVEKIT_API_SECRET=secret
LIVEKIT_REDIS_DB=1

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# --- paths -----------------------------------------------------------------

init_paths() {
	mkdir -p "$STATE_DIR"
	STATE_DIR=$(cd "$STATE_DIR" && pwd)
	PG_DATA=$STATE_DIR/pg
	PG_SOCK_DIR=$STATE_DIR/run/pgsock
	REDIS_DIR=$STATE_DIR/redis
	LOG_DIR=$STATE_DIR/logs
	RUN_DIR=$STATE_DIR/run
	BIN_DIR=$STATE_DIR/bin
	LIVEKIT_BIN=$BIN_DIR/livekit-server
	LIVEKIT_CONF=$STATE_DIR/livekit.yaml
	ENV_FILE=$STATE_DIR/stack.env
	PG_LOG=$LOG_DIR/postgres.log
	REDIS_LOG=$LOG_DIR/redis.log
	LIVEKIT_LOG=$LOG_DIR/livekit.log
	PG_PIDFILE=$RUN_DIR/postgres.pid
	REDIS_PIDFILE=$RUN_DIR/redis.pid
	LIVEKIT_PIDFILE=$RUN_DIR/livekit.pid
}

make_dirs() {
	mkdir -p "$STATE_DIR" "$LOG_DIR" "$RUN_DIR" "$BIN_DIR" "$REDIS_DIR"
	# the postgres system user must be able to traverse these when we run as root
	chmod 0755 "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"
}

take_lock() {
	mkdir -p "$STATE_DIR/run"
	# fd 9 must not leak into the services we start (they would hold the lock forever):
	# every command that starts a long-lived process below closes it with 9>&-
	exec 9>"$STATE_DIR/run/stack.lock"
	if ! flock -n 9; then
		log "waiting for another deploy/stack.sh (lock $STATE_DIR/run/stack.lock)"
		flock -w 900 9 || die "another deploy/stack.sh holds $STATE_DIR/run/stack.lock"
	fi
}

# --- helpers ---------------------------------------------------------------

# pid_alive PID NAME: true when PID is a live process whose command line mentions NAME
# (guards against a stale pid file whose PID was reused by something else).
pid_alive() {
	local pid=$1 name=$2 cmdline
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"$name"* ]]
}

read_pid() { # read_pid FILE -> first line, or nothing
	if [[ -s $1 ]]; then
		head -n1 "$1" | tr -dc '0-9'
		echo
	fi
}

port_open() { # port_open PORT: something accepts TCP connections on 127.0.0.1:PORT
	timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

tail_log() {
	if [[ -f $1 ]]; then
		printf '[stack] --- last lines of %s ---\n' "$1" >&2
		tail -n 20 "$1" >&2 || true
	fi
}

# wait_until SECONDS DESCRIPTION LOG CMD...: poll CMD every 0.5 s
wait_until() {
	local secs=$1 what=$2 logf=$3
	shift 3
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			tail_log "$logf"
			die "$what not ready after ${secs}s; see $logf"
		fi
		sleep 0.5
	done
}

pid_zombie() { # an exited process its parent has not reaped yet counts as gone
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[[ ${stat%% *} == Z ]]
}


# wait_pid_gone PID SECONDS: true when the process exited in time (a zombie counts as exited;
# we give its parent - usually init - up to 2 s more to reap it)
wait_pid_gone() {
	local pid=$1 deadline=$((SECONDS + $2)) reap_deadline=""
	while kill -0 "$pid" 2>/dev/null; do
		if pid_zombie "$pid"; then
			[[ -n $reap_deadline ]] || reap_deadline=$((SECONDS + 2))
			((SECONDS >= reap_deadline)) && return 0
		elif ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 0.2
	done
	return 0
}

# --- tools -----------------------------------------------------------------

pg_bin_dir() { # directory holding initdb/pg_ctl (PATH first, then newest /usr/lib/postgresql/*/bin)
	local p d
	if p=$(command -v initdb 2>/dev/null); then
		p=$(readlink -f "$p")
		dirname "$p"
		return 0
	fi
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V -r | head -n1) || true
	if [[ -x $d ]]; then
		dirname "$d"
		return 0
	fi
	return 1
}

pg_tool() { # pg_tool NAME: path of a PostgreSQL client/server tool
	local d
	d=$(pg_bin_dir) || die "PostgreSQL not found; run: deploy/stack.sh tools"
	if [[ -x $d/$1 ]]; then
		echo "$d/$1"
	elif command -v "$1" >/dev/null 2>&1; then
		command -v "$1"
	else
		die "$1 not found (looked in $d and PATH)"
	fi
}

livekit_ok() { [[ -x $LIVEKIT_BIN ]] && "$LIVEKIT_BIN" --version >/dev/null 2>&1; }

cmd_tools() {
	local pkgs=()
	pg_bin_dir >/dev/null 2>&1 || pkgs+=(postgresql)
	command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
	command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-tools)
	command -v sipp >/dev/null 2>&1 || pkgs+=(sip-tester)
	command -v curl >/dev/null 2>&1 || pkgs+=(curl)
	# headless Chromium: the test that looks at Asynqmon in a browser
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || pkgs+=(chromium)
	# cgo: the Exotel bridge's Opus and resampling (libopus, libsoxr)
	command -v gcc >/dev/null 2>&1 || pkgs+=(gcc libc6-dev)
	if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists opus opusfile soxr; then
		pkgs+=(libopus-dev libopusfile-dev libsoxr-dev pkg-config)
	fi
	if ((${#pkgs[@]})); then
		local sudo=()
		if ! is_root; then
			command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: ${pkgs[*]}"
			sudo=(sudo)
		fi
		log "installing apt packages: ${pkgs[*]}"
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
	else
		log "apt packages: all present (postgresql, redis-server, sip-tester, gcc, libopus/libsoxr dev, chromium)"
	fi

	if livekit_ok; then
		log "livekit-server: present ($("$LIVEKIT_BIN" --version 2>&1 | head -n1))"
	else
		command -v go >/dev/null 2>&1 || die "go not found on PATH; needed to install livekit-server"
		log "installing livekit-server $LIVEKIT_VERSION into $BIN_DIR (go install, ~4 min cold)"
		(cd "$STATE_DIR" && GOBIN=$BIN_DIR go install "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION")
		mv -f "$BIN_DIR/server" "$LIVEKIT_BIN"
		livekit_ok || die "$LIVEKIT_BIN --version fails after install"
		log "livekit-server: installed ($("$LIVEKIT_BIN" --version 2>&1 | head -n1))"
	fi
}

# --- postgres --------------------------------------------------------------

# as_pg CMD...: run CMD as the user that owns the cluster (postgres when we are root)
as_pg() {
	if is_root; then
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u postgres -- "$@")
		else
			local q
			q=$(printf '%q ' "$@")
			(cd / && su postgres -s /bin/sh -c "$q")
		fi
	else
		"$@"
	fi
}

pg_running() { as_pg "$(pg_tool pg_ctl)" status -D "$PG_DATA" >/dev/null 2>&1; }

pg_postmaster_pid() { read_pid "$PG_DATA/postmaster.pid"; }

pg_psql() { # superuser psql over the private unix socket
	"$(pg_tool psql)" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" "$@"
}

pg_init() {
	local owner=()
	if is_root; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' system user"
		owner=(postgres:postgres)
	fi
	mkdir -p "$PG_DATA" "$PG_SOCK_DIR"
	chmod 0700 "$PG_DATA" "$PG_SOCK_DIR"
	touch "$PG_LOG"
	if ((${#owner[@]})); then
		chown "${owner[0]}" "$PG_DATA" "$PG_SOCK_DIR" "$PG_LOG"
		as_pg test -w "$PG_DATA" ||
			die "the postgres user cannot write $PG_DATA (is a parent directory closed to it?); set DIALQ_STATE_DIR elsewhere"
	fi
	local sock="$PG_SOCK_DIR/.s.PGSQL.$PG_PORT"
	((${#sock} < 100)) || die "unix socket path too long (${#sock} chars): $sock; use a shorter DIALQ_STATE_DIR"

	if [[ ! -s $PG_DATA/PG_VERSION ]]; then
		log "postgres: initdb $PG_DATA"
		as_pg "$(pg_tool initdb)" -D "$PG_DATA" -U "$PG_SUPERUSER" -A trust -E UTF8 --locale=C >>"$PG_LOG" 2>&1 ||
			{ tail_log "$PG_LOG"; die "initdb failed; see $PG_LOG"; }
		printf "\ninclude_if_exists = 'dialq.conf'\n" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
		# superuser only over the private socket dir; password (scram) on 127.0.0.1
		as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<-'EOF'
			# written by deploy/stack.sh
			# TYPE  DATABASE  USER  ADDRESS       METHOD
			local   all       all                 trust
			host    all       all   127.0.0.1/32  scram-sha-256
		EOF
	fi
	# rewritten on every start so port overrides apply
	as_pg tee "$PG_DATA/dialq.conf" >/dev/null <<-EOF
		# written by deploy/stack.sh on every start
		listen_addresses = '$HOST'
		port = $PG_PORT
		unix_socket_directories = '$PG_SOCK_DIR'
		unix_socket_permissions = 0700
		password_encryption = 'scram-sha-256'
	EOF
}

pg_start() {
	if pg_running; then
		pg_postmaster_pid >"$PG_PIDFILE"
		log "postgres: already running (pid $(cat "$PG_PIDFILE"), port $PG_PORT)"
	else
		port_open "$PG_PORT" && die "port $PG_PORT is taken by another process; set DIALQ_PG_PORT"
		pg_init
		log "postgres: starting on $HOST:$PG_PORT (log $PG_LOG)"
		as_pg "$(pg_tool pg_ctl)" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" >/dev/null 2>&1 9>&- ||
			{ tail_log "$PG_LOG"; die "postgres did not start; see $PG_LOG"; }
		pg_postmaster_pid >"$PG_PIDFILE"
	fi
	wait_until "$TIMEOUT" postgres "$PG_LOG" "$(pg_tool pg_isready)" -q -h "$HOST" -p "$PG_PORT"

	# role and database (idempotent); CREATEDB so tests can make throwaway databases
	pg_psql -d postgres >/dev/null <<-EOF
		DO \$\$ BEGIN
		  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') THEN
		    CREATE ROLE $DB_USER LOGIN CREATEDB;
		  END IF;
		END \$\$;
		ALTER ROLE $DB_USER WITH LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
	EOF
	if [[ $(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") != 1 ]]; then
		log "postgres: creating database $DB_NAME"
		pg_psql -d postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >/dev/null
	fi
	log "postgres: ready"
}

pg_stop() {
	if [[ ! -s $PG_DATA/PG_VERSION ]] || ! pg_running; then
		log "postgres: not running"
		rm -f "$PG_PIDFILE"
		return 0
	fi
	local pid
	pid=$(pg_postmaster_pid)
	log "postgres: stopping (pid $pid)"
	as_pg "$(pg_tool pg_ctl)" stop -D "$PG_DATA" -m fast -w -t "$TIMEOUT" >/dev/null ||
		die "pg_ctl stop failed; see $PG_LOG"
	if [[ -n $pid ]] && ! wait_pid_gone "$pid" "$TIMEOUT"; then
		die "postgres pid $pid still alive after ${TIMEOUT}s"
	fi
	rm -f "$PG_PIDFILE"
}

# --- redis -----------------------------------------------------------------

redis_running() { pid_alive "$(read_pid "$REDIS_PIDFILE")" redis; }

redis_ping() { [[ $(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

redis_start() {
	if redis_running; then
		log "redis: already running (pid $(read_pid "$REDIS_PIDFILE"), port $REDIS_PORT)"
	else
		rm -f "$REDIS_PIDFILE"
		port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by another process; set DIALQ_REDIS_PORT"
		log "redis: starting on $HOST:$REDIS_PORT (log $REDIS_LOG)"
		redis-server --bind "$HOST" --port "$REDIS_PORT" --protected-mode yes \
			--daemonize yes --pidfile "$REDIS_PIDFILE" --dir "$REDIS_DIR" \
			--save '' --appendonly no --logfile "$REDIS_LOG" >/dev/null 2>&1 9>&- ||
			{ tail_log "$REDIS_LOG"; die "redis-server failed to start; see $REDIS_LOG"; }
	fi
	wait_until "$TIMEOUT" redis "$REDIS_LOG" redis_ping
	wait_until 10 "redis pid file" "$REDIS_LOG" redis_running
	log "redis: ready"
}

# stop_pid NAME PIDFILE MATCH: SIGTERM the pid from the pid file, wait, SIGKILL that same pid if needed
stop_pid() {
	local name=$1 pidfile=$2 match=$3 pid
	pid=$(read_pid "$pidfile")
	if ! pid_alive "$pid" "$match"; then
		log "$name: not running"
		rm -f "$pidfile"
		return 0
	fi
	log "$name: stopping (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_pid_gone "$pid" "$TIMEOUT"; then
		log "$name: pid $pid still alive after ${TIMEOUT}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_pid_gone "$pid" 10 || die "$name pid $pid does not exit"
	fi
	rm -f "$pidfile"
}

# --- livekit ---------------------------------------------------------------

livekit_running() { pid_alive "$(read_pid "$LIVEKIT_PIDFILE")" livekit-server; }

livekit_http_ok() { [[ $(curl -fsS --max-time 2 "http://$HOST:$LIVEKIT_PORT/" 2>/dev/null) == OK ]]; }

livekit_write_config() {
	cat >"$LIVEKIT_CONF" <<-EOF
		# written by deploy/stack.sh on every start; run with --dev
		port: $LIVEKIT_PORT
		bind_addresses: [$HOST]
		keys:
		  $LIVEKIT_API_KEY: $LIVEKIT_API_SECRET
		redis:
		  address: $HOST:$REDIS_PORT
		  db: $LIVEKIT_REDIS_DB
		rtc:
		  tcp_port: 0
		  port_range_start: $LIVEKIT_RTC_PORT_START
		  port_range_end: $LIVEKIT_RTC_PORT_END
		  use_external_ip: false
		  node_ip: $HOST
		  enable_loopback_candidate: true
		  ips:
		    includes: [$HOST/32]
		webhook:
		  api_key: $LIVEKIT_API_KEY
		  urls:
		    - http://$API_ADDR/livekit/webhook
		    - http://$TEST_WEBHOOK_ADDR/livekit/webhook
		logging:
		  level: info
	EOF
}

livekit_start() {
	livekit_ok || die "$LIVEKIT_BIN missing or broken; run: deploy/stack.sh tools"
	if livekit_running; then
		# A config written by an older version of this script (no webhook
		# URLs, say) is replaced: livekit-server reads it only at start.
		local old
		old=$(cat "$LIVEKIT_CONF" 2>/dev/null || true)
		livekit_write_config
		if [[ $old != "$(cat "$LIVEKIT_CONF")" ]]; then
			log "livekit: its config changed; restarting it"
			stop_pid livekit "$LIVEKIT_PIDFILE" livekit-server
		fi
	fi
	if livekit_running; then
		log "livekit: already running (pid $(read_pid "$LIVEKIT_PIDFILE"), port $LIVEKIT_PORT)"
	else
		rm -f "$LIVEKIT_PIDFILE"
		port_open "$LIVEKIT_PORT" && die "port $LIVEKIT_PORT is taken by another process; set DIALQ_LIVEKIT_PORT"
		livekit_write_config
		log "livekit: starting on $HOST:$LIVEKIT_PORT, rtc udp $LIVEKIT_RTC_PORT_START-$LIVEKIT_RTC_PORT_END (log $LIVEKIT_LOG)"
		# own session so it survives the caller's terminal/process group; no job control here,
		# so setsid execs in place and $! is livekit-server's pid
		setsid nohup "$LIVEKIT_BIN" --dev --config "$LIVEKIT_CONF" </dev/null >>"$LIVEKIT_LOG" 2>&1 9>&- &
		echo $! >"$LIVEKIT_PIDFILE"
	fi
	local pid deadline=$((SECONDS + TIMEOUT))
	pid=$(read_pid "$LIVEKIT_PIDFILE")
	until livekit_http_ok; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail_log "$LIVEKIT_LOG"
			rm -f "$LIVEKIT_PIDFILE"
			die "livekit-server (pid $pid) exited; see $LIVEKIT_LOG"
		fi
		if ((SECONDS >= deadline)); then
			tail_log "$LIVEKIT_LOG"
			die "livekit not ready after ${TIMEOUT}s (GET http://$HOST:$LIVEKIT_PORT/); see $LIVEKIT_LOG"
		fi
		sleep 0.5
	done
	livekit_running || die "pid $pid in $LIVEKIT_PIDFILE is not livekit-server"
	log "livekit: ready"
}

# --- env -------------------------------------------------------------------

write_env() {
	local tmp=$ENV_FILE.tmp
	cat >"$tmp" <<-EOF
		# written by deploy/stack.sh up; source it: . $ENV_FILE
		export DATABASE_URL='postgres://$DB_USER:$DB_PASSWORD@$HOST:$PG_PORT/$DB_NAME?sslmode=disable'
		export REDIS_ADDR='$HOST:$REDIS_PORT'
		export LIVEKIT_URL='http://$HOST:$LIVEKIT_PORT'
		export LIVEKIT_API_KEY='$LIVEKIT_API_KEY'
		export LIVEKIT_API_SECRET='$LIVEKIT_API_SECRET'
		export DIALQ_STATE_DIR='$STATE_DIR'
		export DIALQ_TEST_WEBHOOK_ADDR='$TEST_WEBHOOK_ADDR'
	EOF
	mv -f "$tmp" "$ENV_FILE"
}

# --- commands --------------------------------------------------------------

cmd_up() {
	cmd_tools
	pg_start
	redis_start
	livekit_start
	write_env
	log "stack is up; environment in $ENV_FILE"
	cmd_status || true
}

cmd_down() {
	stop_pid livekit "$LIVEKIT_PIDFILE" livekit-server
	stop_pid redis "$REDIS_PIDFILE" redis
	pg_stop
	log "stack is down"
}

cmd_status() {
	local rc=0 pid
	if [[ -s $PG_DATA/PG_VERSION ]] && pg_bin_dir >/dev/null 2>&1 && pg_running; then
		printf '%-9s running  pid=%-8s port=%s\n' postgres "$(pg_postmaster_pid)" "$PG_PORT"
	else
		printf '%-9s stopped  pid=%-8s port=%s\n' postgres - "$PG_PORT"
		rc=1
	fi
	pid=$(read_pid "$REDIS_PIDFILE")
	if pid_alive "$pid" redis; then
		printf '%-9s running  pid=%-8s port=%s\n' redis "$pid" "$REDIS_PORT"
	else
		printf '%-9s stopped  pid=%-8s port=%s\n' redis - "$REDIS_PORT"
		rc=1
	fi
	pid=$(read_pid "$LIVEKIT_PIDFILE")
	if pid_alive "$pid" livekit-server; then
		printf '%-9s running  pid=%-8s port=%s rtc-udp=%s-%s\n' livekit "$pid" "$LIVEKIT_PORT" "$LIVEKIT_RTC_PORT_START" "$LIVEKIT_RTC_PORT_END"
	else
		printf '%-9s stopped  pid=%-8s port=%s\n' livekit - "$LIVEKIT_PORT"
		rc=1
	fi
	return "$rc"
}

cmd_env() {
	[[ -f $ENV_FILE ]] || die "$ENV_FILE does not exist; run: deploy/stack.sh up"
	cat "$ENV_FILE"
}

usage() {
	sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
	local cmd=${1:-}
	case $cmd in
	up | down | tools)
		init_paths
		make_dirs
		take_lock
		"cmd_$cmd"
		;;
	status | env)
		init_paths
		"cmd_$cmd"
		;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
