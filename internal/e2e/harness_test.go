package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	lkp "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
	"github.com/dialq/dialq/internal/testkit/testagent"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// stack is one test's dialq: API and worker as cmd/api and cmd/worker build
// them (package app), and the SIP double, each with its own schema, queue
// and channels on the shared local stack.
type stack struct {
	t      *testing.T
	lk     testenv.LiveKit
	db     *postgres.DB
	dsn    string
	api    *app.API
	apiURL string
	// client asks the API; it checks every answer against the OpenAPI
	// document (checkedClient).
	client   *http.Client
	sip      *sipdouble.Server
	sipURL   string
	queue    string
	channels app.Channels
	dial     queue.DialOptions
	limits   app.LimitsConfig // the workers' limiter, under a prefix of the stack's own

	tenant      uuid.UUID
	key         string
	assistant   uuid.UUID
	agentName   string
	twilio      string // dialq trunk id (= LiveKit trunk id)
	exotel      string
	badTwilio   string // a dialq trunk whose LiveKit trunk does not exist
	rooms       *lksdk.RoomServiceClient
	dispatchAPI *lksdk.AgentDispatchClient
	bridge      *sipbridge.Manager // the worker's SIP bridge, when it has one
	workerHTTP  string             // where the last worker started serves /metrics, /healthz, /readyz
	agent       *testagent.Agent   // the registered agent, with stackOptions.agent
	// secretKey (DIALQ_SECRET_KEY) of the API and the worker: it signs the
	// agents' report tokens and opens the exotel trunk's sealed password.
	secretKey string
}

type stackOptions struct {
	script      sipdouble.Script
	ringTimeout time.Duration
	maxRetry    int
	dialTimeout time.Duration // the API's task timeout (DIALQ_DIAL_TIMEOUT)
	liveKitURL  string        // overrides the worker's LiveKit URL (to make it unreachable)
	noWorker    bool
	// exotelPhone, when set, gives the exotel trunk SIP settings for this
	// sipp peer (make run's demo phone scenario: user exotel-demo) and the
	// worker a SIP bridge.
	exotelPhone *testenv.SippRun
	// agent registers a test agent under the assistant's agent name, and
	// the assistant waits for it to join before each dial, as assistants do
	// by default. Without it the assistant dials without waiting
	// (DialWithoutAgent): nothing would join. waitForAgent makes the
	// assistant wait with no agent registered.
	agent, waitForAgent bool
	// agentJoinTimeout is the assistant's; zero is the default.
	agentJoinTimeout time.Duration
	// keepCallOnAgentLeave is the assistant's: its calls go on when the
	// agent leaves.
	keepCallOnAgentLeave bool
	// apiAddr is where the API listens; default a free port. The stack's
	// livekit-server posts its webhooks to DIALQ_TEST_WEBHOOK_ADDR.
	apiAddr string
	// reconcile tunes the worker's reconciler; its interval defaults to 1 h
	// here, so a test sees webhooks end calls unless it asks for it.
	reconcile app.ReconcileConfig
	// monitoring mounts Asynqmon on the API, reading the stack's Redis.
	monitoring *httpapi.MonitoringConfig
	// campaigns tunes the worker's campaign queue and scheduler.
	campaigns app.CampaignConfig
	// redisAddr points the API and the worker at a Redis of the test's
	// own instead of the stack's (REDIS_ADDR).
	redisAddr string
}

// redis is where the stack's processes find Redis.
func (o stackOptions) redis(t *testing.T) app.Redis {
	if o.redisAddr != "" {
		return app.Redis{Addr: o.redisAddr}
	}
	return app.Redis{Addr: testenv.Env(t, "REDIS_ADDR")}
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	lk := testenv.LiveKitServer(t)
	db, dsn := testenv.Postgres(t)
	log := testenv.Logger(t)

	s := &stack{t: t, lk: lk, db: db, dsn: dsn, queue: testenv.Name("q_"),
		channels: app.Channels{Notify: testenv.Name("ch_"), Hangup: testenv.Name("hangup_")},
		limits:   app.LimitsConfig{Prefix: testenv.Name("lim_") + ":"},
		tenant:   uuid.New(), assistant: uuid.New(), agentName: testenv.Name("agent-"),
		exotel: "ST_exotel_" + testenv.Name(""), badTwilio: "ST_missing_" + testenv.Name(""),
		secretKey:   secret.NewKey(),
		rooms:       lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret),
		dispatchAPI: lksdk.NewAgentDispatchServiceClient(lk.URL, lk.APIKey, lk.APISecret),
	}

	t.Cleanup(func() {
		rdb := testenv.Redis(t)
		iter := rdb.Scan(ctx, 0, s.limits.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})

	// The SIP service double, on a free loopback port.
	sip, err := sipdouble.New(sipdouble.Config{LiveKitURL: lk.URL, APIKey: lk.APIKey, APISecret: lk.APISecret,
		Script: o.script, InviteDelay: 20 * time.Millisecond, Logger: log})
	require.NoError(t, err)
	l, err := sipdouble.Listen("127.0.0.1:0")
	require.NoError(t, err)
	go sip.Serve(l)
	t.Cleanup(func() { sip.Close() })
	s.sip, s.sipURL = sip, "http://"+l.Addr().String()

	// A real LiveKit outbound trunk, made through the double's proxied API.
	trunk, err := lksdk.NewSIPClient(s.sipURL, lk.APIKey, lk.APISecret).CreateSIPOutboundTrunk(ctx,
		&lkp.CreateSIPOutboundTrunkRequest{Trunk: &lkp.SIPOutboundTrunkInfo{
			Name: "dialq-e2e", Address: "127.0.0.1:5060", Numbers: []string{"+15550100000"}}})
	require.NoError(t, err)
	s.twilio = trunk.SipTrunkId

	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: s.tenant, Name: "e2e"}))
	k, key := dialq.NewAPIKey(s.tenant)
	require.NoError(t, db.CreateAPIKey(ctx, k, "e2e"))
	s.key = key
	require.NoError(t, db.SaveAssistant(ctx, &dialq.Assistant{ID: s.assistant, TenantID: s.tenant, Name: "e2e",
		Prompt:           "Hello {{name}}, you're calling from {{company}}.",
		StartInstruction: "Hi {{name}}, this is {{agent_name}} speaking.",
		AgentName:        s.agentName, AgentJoinTimeout: o.agentJoinTimeout, DialWithoutAgent: !o.agent && !o.waitForAgent,
		KeepCallOnAgentLeave: o.keepCallOnAgentLeave}))
	if o.agent {
		agent, err := testagent.Start(ctx, testagent.Config{URL: lk.URL, APIKey: lk.APIKey, APISecret: lk.APISecret, AgentName: s.agentName, Logger: log})
		require.NoError(t, err)
		t.Cleanup(func() { agent.Close() })
		s.agent = agent
	}
	require.NoError(t, db.SaveTrunk(ctx, &dialq.Trunk{ID: s.twilio, TenantID: s.tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: s.twilio}))
	exotel := &dialq.Trunk{ID: s.exotel, TenantID: s.tenant, Provider: dialq.ServiceExotel}
	if p := o.exotelPhone; p != nil {
		rtpMin, rtpMax := testenv.PortBlock(t)
		box, err := secret.BoxFromKey(s.secretKey)
		require.NoError(t, err)
		db.UseSecrets(box)
		exotel.SIP = &dialq.SIPTrunkConfig{SIPHost: p.Host, SIPPort: p.Port, Transport: "tcp", FromDomain: "exotel.local",
			CallerID: "08044319240", Username: "exotel-demo", Password: "dialq-demo-sip",
			MediaIP: "127.0.0.1", RTPPortMin: rtpMin, RTPPortMax: rtpMax}
	}
	require.NoError(t, db.SaveTrunk(ctx, exotel))
	require.NoError(t, db.SaveTrunk(ctx, &dialq.Trunk{ID: s.badTwilio, TenantID: s.tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_doesnotexist"}))

	s.dial = queue.DefaultDialOptions()
	s.dial.Queue = s.queue
	if o.maxRetry > 0 {
		s.dial.MaxRetry = o.maxRetry
	}
	if o.dialTimeout > 0 {
		s.dial.Timeout = o.dialTimeout
	}

	// The API, as cmd/api builds it.
	apiAddr := o.apiAddr
	if apiAddr == "" {
		apiAddr = "127.0.0.1:0"
	}
	httpCfg := httpapi.Config{DefaultWait: 20 * time.Second, MaxWait: 60 * time.Second, CacheTTL: 5 * time.Second}
	if m := o.monitoring; m != nil {
		m.Redis = asynq.RedisClientOpt{Addr: testenv.Env(t, "REDIS_ADDR")}
		httpCfg.Monitoring = m
	}
	a, err := app.NewAPI(ctx, app.APIConfig{
		Addr: apiAddr, DatabaseURL: dsn,
		LiveKit: livekit.Config{URL: lk.URL, APIKey: lk.APIKey, APISecret: lk.APISecret, RequestTimeout: 3 * time.Second}, Redis: o.redis(t), Channels: s.channels, Dial: s.dial,
		HTTP:      httpCfg,
		Calls:     calls.Config{PollInterval: time.Second, CacheTTL: 5 * time.Second},
		SecretKey: s.secretKey,
		// The tests' webhook receivers listen on 127.0.0.1.
		WebhookAllowPrivate: true,
	}, log)
	require.NoError(t, err)
	s.api, s.apiURL, s.client = a, a.URL(), checkedClient(t)
	run(t, a.Run, a.Close)

	if !o.noWorker {
		s.startWorker(o)
	}
	return s
}

// run runs a process of the stack until the test ends.
func run(t *testing.T, runFn func(context.Context) error, closeFn func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runFn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		closeFn()
	})
}

// startWorker runs a worker in this process, as cmd/worker builds it.
func (s *stack) startWorker(o stackOptions) {
	s.startWorkerOpts(s.t, o)
}

// startWorkerWith starts the in-process worker with its LiveKit wrapped.
func (s *stack) startWorkerWith(t *testing.T, wrap func(dialq.LiveKit) dialq.LiveKit) {
	s.startWorkerOpts(t, stackOptions{}, app.WithLiveKit(wrap))
}

func (s *stack) startWorkerOpts(t *testing.T, o stackOptions, opts ...app.WorkerOption) {
	ring := o.ringTimeout
	if ring == 0 {
		ring = 20 * time.Second
	}
	lkURL := s.lk.URL
	if o.liveKitURL != "" {
		lkURL = o.liveKitURL
	}
	cfg := app.WorkerConfig{
		DatabaseURL: s.dsn, Redis: o.redis(t), Channels: s.channels,
		LiveKit: livekit.Config{URL: lkURL, APIKey: s.lk.APIKey, APISecret: s.lk.APISecret, SIPURL: s.sipURL, RequestTimeout: 3 * time.Second},
		Dial:    s.dial,
		Server: dialer.ServerOptions{Queue: s.queue, Concurrency: 20, TaskCheckInterval: 5 * time.Millisecond,
			RetryBase: 100 * time.Millisecond, RetryCheck: 100 * time.Millisecond, ShutdownTimeout: 5 * time.Second},
		RingTimeout: ring,
		SweepAge:    10 * time.Minute,
		PublicURL:   s.apiURL,
		SecretKey:   s.secretKey,
		Reconcile:   o.reconcile,
		Webhooks:    app.WebhookConfig{AllowPrivate: true},
		Limits:      s.limits,
		Campaigns:   o.campaigns,
		HTTPAddr:    "127.0.0.1:0",
	}
	if cfg.Reconcile.Interval == 0 {
		cfg.Reconcile.Interval = time.Hour
	}
	if o.exotelPhone != nil {
		cfg.Bridge = &app.BridgeConfig{SecretKey: s.secretKey, RTPBindIP: "127.0.0.1", NoRTPTimeout: 10 * time.Second,
			MaxCallDuration: time.Minute, Heartbeat: 10 * time.Second, Worker: testenv.Name("worker-")}
	}
	w, err := app.NewWorker(context.Background(), cfg, testenv.Logger(t), opts...)
	require.NoError(t, err)
	s.bridge, s.workerHTTP = w.Bridge, w.HTTPURL()
	run(t, w.Run, w.Close)
	// A status change before the dispatcher listens is sent only by the
	// sweeper, half a minute later: a call's first webhook (call.queued)
	// is made as soon as it is accepted.
	select {
	case <-w.WebhooksListening():
	case <-time.After(10 * time.Second):
		t.Fatal("the worker's webhook dispatcher is not listening after 10 s")
	}
}

func (s *stack) body(number, service, trunk string) map[string]any {
	return map[string]any{
		"assistant_id": s.assistant.String(),
		"trunk_id":     trunk,
		"to_number":    number,
		"call_service": service,
		"metadata":     map[string]any{"name": "John Doe", "company": "Acme Corp", "agent_name": "Sarah"},
	}
}

type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (s *stack) do(method, path string, body any) reply {
	s.t.Helper()
	return s.doHeaders(method, path, body, nil)
}

func (s *stack) doHeaders(method, path string, body any, hdr map[string]string) reply {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(s.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.apiURL+path, rd)
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	require.NoError(s.t, json.Unmarshal(raw, &r.Body), "body: %s", raw)
	return r
}

func (s *stack) call(id string) *dialq.Call {
	s.t.Helper()
	c, err := s.db.FindCall(context.Background(), s.tenant, uuid.MustParse(id))
	require.NoError(s.t, err)
	return c
}

// inspector looks at this stack's queue.
func (s *stack) inspector() *asynq.Inspector {
	insp := asynq.NewInspectorFromRedisClient(testenv.Redis(s.t))
	return insp
}

// dialsTo counts the CreateSIPParticipant requests the double got for number.
func (s *stack) dialsTo(number string) int {
	n := 0
	for _, r := range s.sip.Requests() {
		if r.SipCallTo == number {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agentDispatches lists the dispatches of this test's agent into room.
// (CreateRoom adds a dispatch of its own with no agent name.)
func (s *stack) agentDispatches(room string) []*lkp.AgentDispatch {
	s.t.Helper()
	list, err := s.dispatchAPI.ListDispatch(context.Background(), &lkp.ListAgentDispatchRequest{Room: room})
	require.NoError(s.t, err)
	var out []*lkp.AgentDispatch
	for _, d := range list.AgentDispatches {
		if d.AgentName == s.agentName {
			out = append(out, d)
		}
	}
	return out
}
