package envconf

// Doc says what one variable means. The readers (each binary's config
// reader, run through a Loader) say which variables exist, their kinds and
// defaults; Vars says only what they mean, so the two cannot disagree on a
// default, and Collect refuses a variable read with no Doc or a Doc nobody
// reads.
type Doc struct {
	Name string
	// Meaning is one line for --help, the README's table and .env.example.
	Meaning string
	// Default is shown instead of the reader's default, for a variable
	// whose default is made of another setting (DIALQ_SHUTDOWN_TIMEOUT is
	// the ring time + 15 s). Allowed only where the reader's default is
	// empty or zero, the "work it out" value.
	Default string
}

// Vars is every variable dialq's binaries read, in the order the README's
// table and .env.example list them.
var Vars = []Doc{
	// Stores.
	{Name: "DATABASE_URL", Meaning: "Postgres connection string, e.g. postgres://dialq@127.0.0.1:5432/dialq?sslmode=disable"},
	{Name: "DIALQ_DB_MAX_CONNS", Meaning: "most Postgres connections one process opens"},
	{Name: "DIALQ_MIGRATE", Meaning: "apply the migrations at start"},
	{Name: "REDIS_ADDR", Meaning: "Redis (standalone) host:port: the queue, the limiter, the call notifications"},
	{Name: "REDIS_PASSWORD", Meaning: "Redis password"},
	{Name: "REDIS_DB", Meaning: "Redis database number"},

	// API.
	{Name: "DIALQ_API_ADDR", Meaning: "where the API listens (host:port; port 0 picks one); the worker makes DIALQ_PUBLIC_URL's default of it"},
	{Name: "DIALQ_API_SHUTDOWN_TIMEOUT", Meaning: "on SIGTERM, how long requests in flight may take to finish (waiting ones answer 202 at once, event streams end) before the API closes their connections and exits"},
	{Name: "DIALQ_WAIT_DEFAULT", Meaning: "how long POST /call/outbound waits for the call's outcome when the request gives no wait"},
	{Name: "DIALQ_WAIT_MAX", Meaning: "the longest wait a request may ask for"},
	{Name: "DIALQ_WAIT_POLL", Meaning: "how often a waiting request re-reads its call from Postgres, in case a change notification was lost"},
	{Name: "DIALQ_CACHE_TTL", Meaning: "how long a revoked key or an edited assistant or trunk keeps its old form in an API process"},
	{Name: "DIALQ_MAX_UPLOAD_BYTES", Meaning: "the largest body POST /campaigns takes (other endpoints: 64 KiB); bigger is 413"},
	{Name: "DIALQ_MAX_UPLOADS", Meaning: "campaign uploads one API process stages at once (each holds a Postgres connection while its client sends); more are 503"},
	{Name: "DIALQ_ADMIN_USER", Meaning: "Asynqmon's login at /monitoring (set with DIALQ_ADMIN_PASSWORD); unset: Asynqmon is not mounted"},
	{Name: "DIALQ_ADMIN_PASSWORD", Meaning: "Asynqmon's password (set with DIALQ_ADMIN_USER)"},
	{Name: "DIALQ_MONITORING_WRITABLE", Meaning: "let Asynqmon delete, run and archive tasks; false: a read-only dashboard"},
	{Name: "DIALQ_MONITORING_MASK_NUMBERS", Meaning: "Asynqmon shows phone numbers cut to their last four digits; false shows them in full"},

	// LiveKit.
	{Name: "LIVEKIT_URL", Meaning: "the LiveKit server (ws:// or https://); the API with it (all three LIVEKIT_ settings or none) verifies LiveKit's webhooks and hangs up LiveKit SIP calls"},
	{Name: "LIVEKIT_API_KEY", Meaning: "LiveKit API key"},
	{Name: "LIVEKIT_API_SECRET", Meaning: "LiveKit API secret"},
	{Name: "LIVEKIT_SIP_URL", Meaning: "where LiveKit's SIP API answers, when not at LIVEKIT_URL (make run: the phone simulator)", Default: "LIVEKIT_URL"},
	{Name: "DIALQ_ROOM_EMPTY_TIMEOUT", Meaning: "how long a call's LiveKit room stays once empty"},

	// Queue and tasks.
	{Name: "DIALQ_QUEUE", Meaning: "the asynq queue of the dial tasks of API calls"},
	{Name: "DIALQ_CAMPAIGN_QUEUE", Meaning: "the queue campaign calls go to (docs/campaigns.md)", Default: "DIALQ_QUEUE + -campaigns"},
	{Name: "DIALQ_NOTIFY_CHANNEL", Meaning: "Redis pub/sub channel of call changes (wakes waiting requests, frees limiter slots)"},
	{Name: "DIALQ_HANGUP_CHANNEL", Meaning: "Redis pub/sub channel of hang-up requests to the worker bridging a call"},
	{Name: "DIALQ_DIAL_MAX_RETRY", Meaning: "retries of a dial task after an infrastructure failure (never after a busy or declined phone)"},
	{Name: "DIALQ_DIAL_TIMEOUT", Meaning: "the dial task's timeout, set by whoever enqueues; a worker whose DIALQ_RING_TIMEOUT + 5 s does not fit in it fails the call unrung rather than risk ringing twice"},
	{Name: "DIALQ_TASK_RETENTION", Meaning: "how long a finished task stays visible in Asynqmon"},

	// Worker.
	{Name: "DIALQ_WORKER_CONCURRENCY", Meaning: "API calls a worker dials at once"},
	{Name: "DIALQ_WORKER_HTTP_ADDR", Meaning: "the worker's ops server: /metrics, /healthz, /readyz (docs/operations.md); port 0 picks one"},
	{Name: "DIALQ_TASK_CHECK_INTERVAL", Meaning: "queue poll when idle: pickup p50 ~1.7 ms for ~15% of a core per idle worker (docs/benchmarks.md)"},
	{Name: "DIALQ_SHUTDOWN_TIMEOUT", Meaning: "on SIGTERM, how long dials and webhook deliveries in flight may take to finish (docs/architecture.md, Shutdown)", Default: "DIALQ_RING_TIMEOUT + 15s"},
	{Name: "DIALQ_RETRY_BASE", Meaning: "first retry delay of a failed dial task (doubling after)"},
	{Name: "DIALQ_RETRY_CHECK_INTERVAL", Meaning: "how often the worker moves due retries back to the queue"},
	{Name: "DIALQ_RING_TIMEOUT", Meaning: "how long a phone may ring (a request's ring_timeout overrides it)"},
	{Name: "DIALQ_SWEEP_AGE", Meaning: "how long a call may sit queued with no task before the sweeper enqueues it again"},
	{Name: "DIALQ_PUBLIC_URL", Meaning: "where agents reach the API: each call's report_url is made of it", Default: "http:// + DIALQ_API_ADDR"},
	{Name: "DIALQ_SECRET_KEY", Meaning: "base64, 32 bytes (dialqctl new-secret-key): signs the agents' report tokens and seals the trunks' SIP passwords; API, workers and dialqctl need the same"},
	{Name: "DIALQ_RECONCILE_INTERVAL", Meaning: "how often the reconciler checks each live LiveKit SIP call; a call whose end no webhook reported is closed within about two intervals"},
	{Name: "DIALQ_AGENT_GRACE", Meaning: "an answered call with no agent in its room this long (or this long after its agent left, when kept) is hung up; 0 turns it off"},
	{Name: "DIALQ_LIMIT_PREFIX", Meaning: "the call limiter's Redis keys (docs/limits.md): every worker of a deployment the same, deployments sharing a Redis each their own"},
	{Name: "DIALQ_LIMIT_SWEEP_INTERVAL", Meaning: "how often the limiter's janitor frees the slots of calls over whose end no worker heard"},
	{Name: "DIALQ_CAMPAIGN_CONCURRENCY", Meaning: "campaign calls a worker dials at once, on the campaign queue, apart from DIALQ_WORKER_CONCURRENCY"},
	{Name: "DIALQ_CAMPAIGN_TICK", Meaning: "how often each worker's campaign scheduler passes over the campaigns"},

	// Webhooks.
	{Name: "DIALQ_WEBHOOK_ALLOW_PRIVATE", Meaning: "let webhook endpoints point at loopback, private, link-local or reserved addresses (checked at creation and at every connection); make run sets true"},
	{Name: "DIALQ_WEBHOOK_QUEUE", Meaning: "the queue of webhook deliveries; unset shares DIALQ_QUEUE (another queue costs every idle worker one more Redis poll per DIALQ_TASK_CHECK_INTERVAL)"},
	{Name: "DIALQ_WEBHOOK_SWEEP_AGE", Meaning: "how overdue an unclaimed webhook delivery gets before the sweeper enqueues it again"},

	// Exotel SIP bridge.
	{Name: "DIALQ_BRIDGE", Meaning: "this worker runs dialq's SIP bridge and dials Exotel trunks"},
	{Name: "DIALQ_SIP_LISTEN", Meaning: "where Exotel's in-call requests (BYE, re-INVITE) arrive; production sets a routable address"},
	{Name: "DIALQ_SIP_CONTACT_HOST", Meaning: "the host the carrier reaches DIALQ_SIP_LISTEN at; unset: DIALQ_SIP_LISTEN's host"},
	{Name: "DIALQ_RTP_BIND_IP", Meaning: "local address of the calls' RTP ports (range per trunk); production sets 0.0.0.0"},
	{Name: "DIALQ_NO_RTP_TIMEOUT", Meaning: "an answered bridged call with no audio this long ends"},
	{Name: "DIALQ_MAX_CALL_DURATION", Meaning: "answered calls this long are hung up, on both paths (a request's max_duration overrides it)"},
	{Name: "DIALQ_DRAIN_TIMEOUT", Meaning: "on SIGTERM, how long live bridged calls may go on before the worker hangs them up"},
	{Name: "DIALQ_BRIDGE_HEARTBEAT", Meaning: "how often a worker vouches for its bridged calls; a call unvouched for 6 heartbeats is closed as worker_lost"},
	{Name: "DIALQ_BRIDGE_NICE", Meaning: "the bridging worker's CPU priority (nice, -20..0; 0 leaves it) so its 20 ms RTP frames go out on time; needs CAP_SYS_NICE, else a warning"},

	// Logs.
	{Name: "DIALQ_LOG_LEVEL", Meaning: "debug, info, warn or error"},

	// dialqctl.
	{Name: "DIALQ_EXOTEL_PASSWORD", Meaning: "dialqctl save-trunk -provider exotel: the trunk's SIP digest password (kept out of flags and shell history)"},
	{Name: "DIALQ_API_URL", Meaning: "dialqctl seed-demo: the API's URL written to the demo env file"},

	// phonesim.
	{Name: "PHONESIM_ADDR", Meaning: "where the phone simulator serves LiveKit's SIP API (loopback only)"},
	{Name: "PHONESIM_RING", Meaning: "how long each simulated phone rings before it answers"},
	{Name: "PHONESIM_ANSWER", Meaning: "the SIP code every simulated phone answers with: 200, or 486, 480, 603... to try failures"},
	{Name: "PHONESIM_TALK", Meaning: "how long an answered simulated phone stays before it hangs up; 0 stays until everyone else left the room"},
}
