#!/usr/bin/env bash
# make run: everything dialq needs, on this machine, in the foreground.
#   1. the local stack (PostgreSQL, Redis, livekit-server), installing what is missing
#   2. migrations and the demo tenant (API key, assistant, one trunk per provider)
#   3. the LOCAL PHONE SIMULATOR standing in for LiveKit's SIP service, a local
#      sipp "Exotel phone" the demo Exotel trunk dials over real SIP/RTP, the
#      API, a worker and the DEMO agent (examples/node-agent, on LiveKit Agents
#      for Node.js, under the demo assistant's agent name), until Ctrl-C, which
#      stops these (by PID) and leaves the stack of step 1 running: 'make down'
#      stops it
# DIALQ_DEMO_AGENT=0 leaves the demo agent out: run your own agent under the
# demo assistant's agent name (DIALQ_AGENT_NAME in .dialq/demo.env) instead.
# Point LIVEKIT_URL (and LIVEKIT_API_KEY/SECRET) at a LiveKit deployment with
# SIP to dial real phones instead; then the simulator is not started.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${DIALQ_STATE_DIR:-$PWD/.dialq}
API_ADDR=${DIALQ_API_ADDR:-127.0.0.1:58080}
PHONESIM_ADDR=${PHONESIM_ADDR:-127.0.0.1:58090}
EXOTEL_PHONE_ADDR=${DIALQ_EXOTEL_PHONE_ADDR:-127.0.0.1:58060}
EXOTEL_PHONE_MEDIA_PORT=${DIALQ_EXOTEL_PHONE_MEDIA_PORT:-58300}
DEMO_AGENT=${DIALQ_DEMO_AGENT:-1}

external_livekit=${LIVEKIT_URL:-}
bash deploy/stack.sh up
set -a
# shellcheck source=/dev/null
. "$STATE/stack.env"
set +a

echo "[run] building binaries into bin/"
go build -o bin/ ./cmd/...

if [[ $DEMO_AGENT != 0 ]] && ! bash deploy/node-agent.sh install; then
	echo "[run] WARNING: the demo agent's install failed (output above); running without it"
	DEMO_AGENT=0
fi

# What this run starts, by PID: Ctrl-C (or any exit) stops exactly these.
# The stack (PostgreSQL, Redis, livekit-server) is deploy/stack.sh's: it
# keeps running for the next run until 'make down'.
pids=()
names=()
started() { # started NAME: track the process just started in the background
	pids+=("$!")
	names+=("$1")
}
# prefix NAME: copy stdin to stdout with "[NAME] " before each line. Ctrl-C
# sends SIGINT to every process of this script: the log pipes must outlive
# it, or the API and worker, writing their shutdown lines into a pipe with
# no reader, die of SIGPIPE instead of shutting down.
prefix() {
	trap '' INT
	exec sed -u "s/^/[$1] /"
}
started_list() { # the tracked processes, comma-separated
	local IFS=,
	echo "${names[*]}" | sed 's/,/, /g'
}
stop() {
	trap - INT TERM EXIT
	echo
	if ((${#pids[@]})); then
		echo "[run] stopping what this run started: $(started_list)"
	fi
	# On Ctrl-C they have its SIGINT already (the Go binaries shut down
	# gracefully on it); SIGTERM each by its PID anyway, then wait for all.
	local i
	for i in "${!pids[@]}"; do kill "${pids[$i]}" 2>/dev/null || true; done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" 2>/dev/null || true; done
	echo "[run] stopped. PostgreSQL, Redis and livekit-server keep running; 'make down' stops them."
}
trap stop INT TERM EXIT

mkdir -p "$STATE/logs"
if [[ -n $external_livekit ]]; then
	export LIVEKIT_URL=$external_livekit
	echo "[run] using the LiveKit at $LIVEKIT_URL for rooms, agents and SIP"
else
	export LIVEKIT_SIP_URL="http://$PHONESIM_ADDR"
	PHONESIM_ADDR=$PHONESIM_ADDR bin/phonesim > >(prefix phonesim) 2>&1 &
	started "phone simulator (pid $!)"
	for _ in $(seq 1 50); do
		curl -s -o /dev/null "http://$PHONESIM_ADDR/" && break
		sleep 0.1
	done
fi

# The demo Exotel trunk's far end: sipp playing Exotel and a phone that
# answers and echoes the audio (deploy/sipp/exotel-phone.xml).
scenario=$PWD/deploy/sipp/exotel-phone.xml
(cd "$STATE/logs" && exec sipp -sf "$scenario" \
	-i "${EXOTEL_PHONE_ADDR%:*}" -p "${EXOTEL_PHONE_ADDR##*:}" -t t1 \
	-mi "${EXOTEL_PHONE_ADDR%:*}" -mp "$EXOTEL_PHONE_MEDIA_PORT" -rtp_echo -nostdin \
	-trace_err -error_file exotel-phone-errors.log) >/dev/null 2>&1 &
started "sipp phone (pid $!)"
echo "[run] local Exotel phone (sipp) on tcp $EXOTEL_PHONE_ADDR; its errors go to $STATE/logs/exotel-phone-errors.log"

export DIALQ_API_URL="http://$API_ADDR"
# The demo assistant's calls wait up to 30 s for the agent to join before the
# phone rings (the default is 10 s): the Node demo agent's job process took 7
# to 10 s to join on a 2-core machine under load.
bin/dialqctl seed-demo -env-file "$STATE/demo.env" -exotel-address "$EXOTEL_PHONE_ADDR" -agent-join-timeout 30s >/dev/null
# shellcheck source=/dev/null
. "$STATE/demo.env"

export DIALQ_API_ADDR=$API_ADDR
export DIALQ_ADMIN_USER=${DIALQ_ADMIN_USER:-admin}
export DIALQ_ADMIN_PASSWORD=${DIALQ_ADMIN_PASSWORD:-dialq-demo}
# A local run sends webhooks to receivers on this machine (127.0.0.1):
# the API accepts such endpoints and the worker connects to them. Outside
# make run both refuse loopback and private addresses (docs/webhooks.md).
export DIALQ_WEBHOOK_ALLOW_PRIVATE=${DIALQ_WEBHOOK_ALLOW_PRIVATE:-true}
bin/api > >(prefix api) 2>&1 &
started "API (pid $!)"
bin/worker > >(prefix worker) 2>&1 &
started "worker (pid $!)"

if [[ $DEMO_AGENT != 0 ]]; then
	echo "[run] starting the DEMO agent (examples/node-agent) as '$DIALQ_AGENT_NAME': it plays a tone, no AI; set DIALQ_DEMO_AGENT=0 to bring your own"
	(cd examples/node-agent && DIALQ_AGENT_NAME=$DIALQ_AGENT_NAME exec node agent.js start) > >(prefix demo-agent) 2>&1 &
	started "demo agent (pid $!)"
else
	echo "[run] no demo agent (DIALQ_DEMO_AGENT=0): start your agent under the agent name '$DIALQ_AGENT_NAME'"
fi

for _ in $(seq 1 100); do
	curl -fs -o /dev/null "http://$API_ADDR/readyz" && break
	sleep 0.1
done

cat <<MSG

==============================================================================
 dialq is running.
   API:        http://$API_ADDR          (OpenAPI: http://$API_ADDR/openapi.yaml, /openapi.json)
   Asynqmon:   http://$API_ADDR/monitoring/   (user $DIALQ_ADMIN_USER, password $DIALQ_ADMIN_PASSWORD)
   LiveKit:    $LIVEKIT_URL
MSG
if [[ -z $external_livekit ]]; then
	echo "   Phones:     LOCAL PHONE SIMULATOR at http://$PHONESIM_ADDR (no real call is placed)"
fi
if [[ $DEMO_AGENT != 0 ]]; then
	echo "   Agent:      DEMO agent '$DIALQ_AGENT_NAME' (examples/node-agent: a tone, no AI); DIALQ_DEMO_AGENT=0 to bring your own"
else
	echo "   Agent:      none started; run yours under the agent name '$DIALQ_AGENT_NAME'"
fi
echo "   Exotel:     the demo Exotel trunk dials a LOCAL sipp phone on tcp $EXOTEL_PHONE_ADDR (real SIP and RTP, echoes audio)"
cat <<MSG
 Demo tenant written to $STATE/demo.env. In another shell:

   . $STATE/demo.env
   curl -s -X POST "\$DIALQ_API_URL/call/outbound" \\
     -H "Content-Type: application/json" -H "Authorization: Bearer \$DIALQ_API_KEY" \\
     -d '{"assistant_id":"'\$DIALQ_ASSISTANT_ID'","trunk_id":"'\$DIALQ_TWILIO_TRUNK_ID'",
          "to_number":"+15550200000","call_service":"twilio","metadata":{"name":"John Doe"}}'

 and through the Exotel bridge:

   curl -s -X POST "\$DIALQ_API_URL/call/outbound" \\
     -H "Content-Type: application/json" -H "Authorization: Bearer \$DIALQ_API_KEY" \\
     -d '{"assistant_id":"'\$DIALQ_ASSISTANT_ID'","trunk_id":"'\$DIALQ_EXOTEL_TRUNK_ID'",
          "to_number":"+918044319240","call_service":"exotel"}'

 Ctrl-C stops what this run started: $(started_list).
 PostgreSQL, Redis and livekit-server keep running (the next 'make run' starts
 faster); 'make down' stops them.
==============================================================================
MSG
wait
