package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	lkp "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/sipbridge/sipua"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// stack is one test's dialq: API, worker, SIP double, each with its own
// schema, queue and channel on the shared local stack.
type stack struct {
	t      *testing.T
	lk     testenv.LiveKit
	db     *postgres.DB
	dsn    string
	api    *httptest.Server
	sip    *sipdouble.Server
	sipURL string
	queue  string
	notify string
	dial   queue.DialOptions

	tenant      uuid.UUID
	key         string
	assistant   uuid.UUID
	agentName   string
	twilio      string // dialq trunk id (= LiveKit trunk id)
	exotel      string
	badTwilio   string // a dialq trunk whose LiveKit trunk does not exist
	rooms       *lksdk.RoomServiceClient
	dispatchAPI *lksdk.AgentDispatchClient
	hangups     string             // the hang-up requests' channel
	bridge      *sipbridge.Manager // the worker's Exotel bridge, when it has one
}

type stackOptions struct {
	script      sipdouble.Script
	ringTimeout time.Duration
	maxRetry    int
	liveKitURL  string // overrides the worker's LiveKit URL (to make it unreachable)
	noWorker    bool
	// exotelPhone, when set, gives the exotel trunk SIP settings for this
	// sipp peer (make run's demo phone scenario: user exotel-demo) and the
	// worker an Exotel bridge.
	exotelPhone *testenv.SippRun
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	lk := testenv.LiveKitServer(t)
	db, dsn := testenv.Postgres(t)
	rdb := testenv.Redis(t)
	log := testenv.Logger(t)

	s := &stack{t: t, lk: lk, db: db, dsn: dsn, queue: testenv.Name("q_"), notify: testenv.Name("ch_"), hangups: testenv.Name("hangup_"),
		tenant: uuid.New(), assistant: uuid.New(), agentName: testenv.Name("agent-"),
		exotel: "ST_exotel_" + testenv.Name(""), badTwilio: "ST_missing_" + testenv.Name(""),
		rooms:       lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret),
		dispatchAPI: lksdk.NewAgentDispatchServiceClient(lk.URL, lk.APIKey, lk.APISecret),
	}

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
		AgentName:        s.agentName}))
	require.NoError(t, db.SaveTrunk(ctx, &dialq.Trunk{ID: s.twilio, TenantID: s.tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: s.twilio}))
	exotel := &dialq.Trunk{ID: s.exotel, TenantID: s.tenant, Provider: dialq.ServiceExotel}
	if p := o.exotelPhone; p != nil {
		rtpMin, rtpMax := testenv.PortBlock(t)
		box, err := secret.BoxFromKey(secret.NewKey())
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

	// The API.
	hub, err := notify.NewHub(ctx, rdb, s.notify, log)
	require.NoError(t, err)
	t.Cleanup(func() { hub.Close() })
	api, err := httpapi.New(db, queue.NewEnqueuer(asynq.NewClientFromRedisClient(rdb), s.dial), hub, nil, log,
		httpapi.Config{DefaultWait: 20 * time.Second, MaxWait: 60 * time.Second, PollInterval: time.Second, CacheTTL: 5 * time.Second,
			Hangup: notify.NewHangups(rdb, s.hangups).Request})
	require.NoError(t, err)
	s.api = httptest.NewServer(api)
	t.Cleanup(s.api.Close)

	if !o.noWorker {
		s.startWorker(o)
	}
	return s
}

// startWorker runs an in-process asynq server with the dialer, as cmd/worker does.
func (s *stack) startWorker(o stackOptions) {
	s.startWorkerOpts(s.t, o, nil)
}

// startWorkerWith starts the in-process worker with its LiveKit wrapped.
func (s *stack) startWorkerWith(t *testing.T, wrap func(dialq.LiveKit) dialq.LiveKit) {
	s.startWorkerOpts(t, stackOptions{}, wrap)
}

func (s *stack) startWorkerOpts(t *testing.T, o stackOptions, wrap func(dialq.LiveKit) dialq.LiveKit) {
	rdb := testenv.Redis(t)
	ring := o.ringTimeout
	if ring == 0 {
		ring = 20 * time.Second
	}
	lkURL := s.lk.URL
	if o.liveKitURL != "" {
		lkURL = o.liveKitURL
	}
	var lk dialq.LiveKit = livekit.New(livekit.Config{URL: lkURL, APIKey: s.lk.APIKey, APISecret: s.lk.APISecret, SIPURL: s.sipURL, RequestTimeout: 3 * time.Second})
	if wrap != nil {
		lk = wrap(lk)
	}
	d := &dialer.Dialer{
		Store:          s.db,
		LiveKit:        lk,
		Notify:         notify.NewPublisher(rdb, s.notify),
		Log:            testenv.Logger(t),
		Now:            time.Now,
		RingTimeout:    ring,
		FollowInterval: 200 * time.Millisecond,
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              20,
		Queues:                   map[string]int{s.queue: 1},
		TaskCheckInterval:        5 * time.Millisecond,
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		RetryDelayFunc:           dialer.RetryDelay(100 * time.Millisecond),
		ShutdownTimeout:          5 * time.Second,
		LogLevel:                 asynq.ErrorLevel,
	})
	if o.exotelPhone != nil {
		ua, err := sipua.New(sipua.Config{Log: testenv.Logger(t)})
		require.NoError(t, err)
		m := sipbridge.New(sipbridge.Config{Worker: testenv.Name("worker-"), LiveKitURL: s.lk.URL, APIKey: s.lk.APIKey,
			APISecret: s.lk.APISecret, BindIP: "127.0.0.1", RingTimeout: ring, NoRTPTimeout: 10 * time.Second,
			MaxDuration: time.Minute}, ua, s.db, d.Notify, testenv.Logger(t))
		d.Bridge = m
		s.bridge = m
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, notify.NewHangups(rdb, s.hangups).Listen(ctx, testenv.Logger(t), func(id uuid.UUID, reason string) {
			m.Hangup(id, reason)
		}))
		t.Cleanup(func() {
			cancel()
			m.Drain(0)
			ua.Close()
		})
	}
	mux := asynq.NewServeMux()
	d.Register(mux)
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)
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
	req, err := http.NewRequest(method, s.api.URL+path, rd)
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
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
