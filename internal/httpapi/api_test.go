package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/testkit/testenv"
	"github.com/dialq/dialq/internal/webhooks"
)

// harness is the API on a real Postgres schema and Redis, with its own
// queue; no worker runs, so tests here use ?wait=0 or check the queue.
type harness struct {
	t   *testing.T
	srv *httptest.Server
	// client asks srv; it checks every answer against the OpenAPI document.
	client    *http.Client
	api       *httpapi.Server
	db        *postgres.DB
	dsn       string
	logs      *syncBuffer // the API's log, JSON lines
	campaigns *campaigns.Service
	insp      *asynq.Inspector
	queue     string
	tenant    uuid.UUID
	key       string
	assistant uuid.UUID
	twilio    string
	exotel    string
	// notify announces call changes to the API, as the worker does.
	notify *notify.Publisher
}

// harnessConfig is how a test sets up the API under test.
type harnessConfig struct {
	HTTP    httpapi.Config
	Calls   calls.Config
	Hangups calls.Hangups
	// Campaigns tunes the campaigns service the API is given.
	Campaigns campaigns.Config
}

func newHarness(t *testing.T, mutate ...func(*harnessConfig)) *harness {
	t.Helper()
	ctx := context.Background()
	db, dsn := testenv.Postgres(t)
	rdb := testenv.Redis(t)
	q := testenv.Name("q_")
	channel := testenv.Name("ch_")
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", t.Name(), logs.String())
		}
	})

	hub, err := notify.NewHub(ctx, rdb, channel, log)
	require.NoError(t, err)
	t.Cleanup(func() { hub.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	opts := queue.DefaultDialOptions()
	opts.Queue = q
	cfg := harnessConfig{
		HTTP:  httpapi.Config{DefaultWait: 10 * time.Second, MaxWait: 60 * time.Second, CacheTTL: 5 * time.Second},
		Calls: calls.Config{PollInterval: time.Second, CacheTTL: 5 * time.Second},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	if cfg.HTTP.Webhooks == nil {
		cfg.HTTP.Webhooks = webhooks.NewService(db, webhooks.Guard{})
	}
	svc := calls.New(db, queue.NewEnqueuer(client, opts), hub, cfg.Hangups, log, cfg.Calls)
	if cfg.HTTP.Campaigns == nil {
		cfg.HTTP.Campaigns = campaigns.New(db, svc, log, cfg.Campaigns)
	}
	api, err := httpapi.New(svc, db, nil, log, cfg.HTTP)
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	insp := asynq.NewInspectorFromRedisClient(rdb)

	h := &harness{t: t, srv: srv, client: checkedClient(t), api: api, campaigns: cfg.HTTP.Campaigns, db: db, dsn: dsn, logs: logs, insp: insp, queue: q, tenant: uuid.New(), assistant: uuid.New(),
		twilio: "ST_" + testenv.Name("tw"), exotel: "ST_" + testenv.Name("ex"), notify: notify.NewPublisher(rdb, channel)}
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: h.tenant, Name: "acme"}))
	k, key := dialq.NewAPIKey(h.tenant)
	require.NoError(t, db.CreateAPIKey(ctx, k, "test"))
	h.key = key
	require.NoError(t, db.SaveAssistant(ctx, &dialq.Assistant{ID: h.assistant, TenantID: h.tenant, Name: "a",
		Prompt: "Hello {{name}}, you're calling from {{company}}.", StartInstruction: "Hi {{name}}, this is {{agent_name|Sarah}} speaking.",
		AgentName: "test-agent"}))
	require.NoError(t, db.SaveTrunk(ctx, &dialq.Trunk{ID: h.twilio, TenantID: h.tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_livekit1"}))
	require.NoError(t, db.SaveTrunk(ctx, &dialq.Trunk{ID: h.exotel, TenantID: h.tenant, Provider: dialq.ServiceExotel}))
	return h
}

func (h *harness) body(mutate func(map[string]any)) map[string]any {
	b := map[string]any{
		"assistant_id": h.assistant.String(),
		"trunk_id":     h.twilio,
		"to_number":    "+15550200000",
		"call_service": "twilio",
		"metadata":     map[string]any{"name": "John Doe", "company": "Acme Corp"},
	}
	if mutate != nil {
		mutate(b)
	}
	return b
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (h *harness) do(method, path, key, contentType string, body []byte) response {
	h.t.Helper()
	hdr := map[string]string{}
	if key != "" {
		hdr["Authorization"] = "Bearer " + key
	}
	if contentType != "" {
		hdr["Content-Type"] = contentType
	}
	return h.doHeaders(method, path, body, hdr)
}

func (h *harness) doHeaders(method, path string, body []byte, hdr map[string]string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	require.NoError(h.t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(h.t, json.Unmarshal(raw, &r.Body), "body: %s", raw)
	}
	return r
}

func (h *harness) post(path string, body any) response {
	h.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(h.t, err)
	return h.do(http.MethodPost, path, h.key, "application/json", b)
}

func (h *harness) queuedTasks() []*asynq.TaskInfo {
	h.t.Helper()
	tasks, err := h.insp.ListPendingTasks(h.queue)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	require.NoError(h.t, err)
	return tasks
}

// requireFieldError checks a 400 body names field with a message containing msg.
func requireFieldError(t *testing.T, r response, field, msg string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	require.Equal(t, false, r.Body["success"])
	e := r.Body["error"].(map[string]any)
	require.Equal(t, "invalid", e["code"])
	fields := e["fields"].([]any)
	require.NotEmpty(t, fields, r.Raw)
	var names []string
	for _, f := range fields {
		fm := f.(map[string]any)
		names = append(names, fm["field"].(string))
		if fm["field"] == field {
			require.Contains(t, fm["message"], msg, r.Raw)
		}
	}
	require.Contains(t, names, field, r.Raw)
	require.Contains(t, r.Body["message"], field)
}

func TestOutboundAcceptsAndEnqueuesWithoutWaiting(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.post("/call/outbound?wait=0", h.body(nil))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	id := data["call_id"].(string)
	require.Equal(t, "queued", data["status"])
	require.Equal(t, "/call/"+id, r.Header.Get("Location"))
	require.Equal(t, true, r.Body["success"])

	tasks := h.queuedTasks()
	require.Len(t, tasks, 1)
	require.Equal(t, id, tasks[0].ID, "TaskID is the call id")
	require.Equal(t, queue.TypeCallDial, tasks[0].Type)
	var p queue.DialPayload
	require.NoError(t, json.Unmarshal(tasks[0].Payload, &p))
	require.Equal(t, id, p.CallID.String())

	c, err := h.db.FindCall(context.Background(), h.tenant, uuid.MustParse(id))
	require.NoError(t, err)
	require.Equal(t, "Hello John Doe, you're calling from Acme Corp.", c.Prompt)
	require.Equal(t, "Hi John Doe, this is Sarah speaking.", c.StartInstruction)
	require.Equal(t, "ST_livekit1", c.LiveKitTrunkID)
	require.Equal(t, "John Doe", c.Metadata["name"])

	g := h.do(http.MethodGet, "/call/"+id, h.key, "", nil)
	require.Equal(t, http.StatusOK, g.Status, g.Raw)
	gd := g.Body["data"].(map[string]any)
	require.Equal(t, "queued", gd["status"])
	require.Equal(t, "+15550200000", gd["to_number"])
	require.Equal(t, "twilio", gd["call_service"])
	require.EqualValues(t, 0, gd["attempts"])
}

func TestOutboundWaitTimesOutWith202(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	start := time.Now()
	r := h.post("/call/outbound?wait=0.3", h.body(nil))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.NotEmpty(t, r.Header.Get("Location"))
}

func TestOutboundRejectsBadRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	tests := []struct {
		name        string
		contentType string
		body        []byte
		query       string
		field, msg  string
	}{
		{"wrong content type", "text/plain", js(h.body(nil)), "", "Content-Type", "application/json"},
		{"no content type", "", js(h.body(nil)), "", "Content-Type", "application/json"},
		{"empty body", "application/json", nil, "", "body", "empty"},
		{"not json", "application/json", []byte("{nope"), "", "body", "not valid JSON"},
		{"array body", "application/json", []byte(`[1]`), "", "body", "JSON object"},
		{"truncated", "application/json", []byte(`{"assistant_id": "x"`), "", "body", "ends too early"},
		{"trailing data", "application/json", append(js(h.body(nil)), []byte(` {}`)...), "", "body", "nothing after it"},
		{"unknown field", "application/json", js(h.body(func(b map[string]any) { b["callback"] = "x" })), "", "callback", "not a known field"},
		{"duplicate key", "application/json", []byte(`{"assistant_id":"` + h.assistant.String() + `","assistant_id":"` + h.assistant.String() + `","trunk_id":"` + h.twilio + `","to_number":"+15550200000","call_service":"twilio"}`), "", "assistant_id", "more than once"},
		{"duplicate metadata key", "application/json", []byte(`{"assistant_id":"` + h.assistant.String() + `","trunk_id":"` + h.twilio + `","to_number":"+15550200000","call_service":"twilio","metadata":{"name":"a","name":"b"}}`), "", "metadata.name", "more than once"},
		{"number not string", "application/json", js(h.body(func(b map[string]any) { b["to_number"] = 15550200000 })), "", "to_number", "must be a string"},
		{"metadata not object", "application/json", js(h.body(func(b map[string]any) { b["metadata"] = "x" })), "", "metadata", "JSON object"},
		{"metadata too large", "application/json", js(h.body(func(b map[string]any) {
			b["metadata"] = map[string]any{"name": "a", "company": "b", "blob": strings.Repeat("x", dialq.MaxMetadataBytes)}
		})), "", "metadata", "bytes"},
		{"bad uuid", "application/json", js(h.body(func(b map[string]any) { b["assistant_id"] = "550e8400" })), "", "assistant_id", "UUID"},
		{"bad trunk", "application/json", js(h.body(func(b map[string]any) { b["trunk_id"] = "trunk1" })), "", "trunk_id", "ST_"},
		{"bad number", "application/json", js(h.body(func(b map[string]any) { b["to_number"] = "555-0100" })), "", "to_number", "E.164"},
		{"bad service", "application/json", js(h.body(func(b map[string]any) { b["call_service"] = "plivo" })), "", "call_service", "twilio, exotel"},
		{"missing fields", "application/json", []byte(`{}`), "", "to_number", "is required"},
		{"service mismatch", "application/json", js(h.body(func(b map[string]any) { b["call_service"] = "exotel" })), "", "call_service", "twilio trunk"},
		{"missing placeholder", "application/json", js(h.body(func(b map[string]any) { b["metadata"] = map[string]any{"name": "x"} })), "", "metadata", "company"},
		{"non-string placeholder", "application/json", js(h.body(func(b map[string]any) {
			b["metadata"] = map[string]any{"name": map[string]any{"first": "x"}, "company": "c"}
		})), "", "metadata.name", "string, number or boolean"},
		{"bad wait", "application/json", js(h.body(nil)), "?wait=abc", "wait", "seconds"},
		{"wait too long", "application/json", js(h.body(nil)), "?wait=61", "wait", "0 to 60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodPost, "/call/outbound"+tt.query, h.key, tt.contentType, tt.body)
			requireFieldError(t, r, tt.field, tt.msg)
		})
	}
	require.Empty(t, h.queuedTasks(), "nothing invalid reaches the queue")
}

func TestOutboundRequiresAValidKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b, _ := json.Marshal(h.body(nil))
	_, otherKey := dialq.NewAPIKey(h.tenant) // well-formed, never stored
	tests := []struct{ name, header string }{
		{"missing", ""},
		{"wrong scheme", "Basic " + h.key},
		{"empty bearer", "Bearer "},
		{"malformed key", "Bearer not-a-key"},
		{"unknown key", "Bearer " + otherKey},
		{"tampered secret", "Bearer " + h.key[:len(h.key)-2] + "AA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/call/outbound", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := checkedClient(t).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, false, body["success"])
			require.Equal(t, "unauthorized", body["error"].(map[string]any)["code"])
			require.NotEmpty(t, body["message"])
			require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
		})
	}

	require.Empty(t, h.queuedTasks())
}

func TestRevokedKeyIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) { c.HTTP.CacheTTL, c.Calls.CacheTTL = 0, 0 })
	k, key := dialq.NewAPIKey(h.tenant)
	require.NoError(t, h.db.CreateAPIKey(context.Background(), k, "short-lived"))
	b, _ := json.Marshal(h.body(nil))
	r := h.do(http.MethodPost, "/call/outbound?wait=0", key, "application/json", b)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	require.NoError(t, h.db.RevokeAPIKey(context.Background(), k.ID))
	r = h.do(http.MethodPost, "/call/outbound?wait=0", key, "application/json", b)
	require.Equal(t, http.StatusUnauthorized, r.Status, r.Raw)
}

func TestOutboundNotFoundForMissingOrForeignAssistantAndTrunk(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := newHarness(t) // another tenant, its own assistant and trunks
	ctx := context.Background()
	// Make the other tenant's assistant and trunk visible in this schema too.
	require.NoError(t, h.db.SaveTenant(ctx, &dialq.Tenant{ID: other.tenant, Name: "other"}))
	require.NoError(t, h.db.SaveAssistant(ctx, &dialq.Assistant{ID: other.assistant, TenantID: other.tenant, Name: "x", AgentName: "x"}))
	require.NoError(t, h.db.SaveTrunk(ctx, &dialq.Trunk{ID: other.twilio, TenantID: other.tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_x"}))

	tests := []struct {
		name, field, value, msg string
	}{
		{"unknown assistant", "assistant_id", uuid.NewString(), "Assistant"},
		{"foreign assistant", "assistant_id", other.assistant.String(), "Assistant"},
		{"unknown trunk", "trunk_id", "ST_doesnotexist", "Trunk"},
		{"foreign trunk", "trunk_id", other.twilio, "Trunk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post("/call/outbound?wait=0", h.body(func(b map[string]any) { b[tt.field] = tt.value }))
			require.Equal(t, http.StatusNotFound, r.Status, r.Raw)
			require.Equal(t, false, r.Body["success"])
			require.Equal(t, "not_found", r.Body["error"].(map[string]any)["code"])
			require.Contains(t, r.Body["message"], tt.msg)
			require.Contains(t, r.Body["message"], tt.value)
		})
	}
	require.Empty(t, h.queuedTasks())
}

func TestGetCallIsTenantScoped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.post("/call/outbound?wait=0", h.body(nil))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)

	// Another tenant's key in the same database.
	other := uuid.New()
	require.NoError(t, h.db.SaveTenant(context.Background(), &dialq.Tenant{ID: other, Name: "other"}))
	k, key := dialq.NewAPIKey(other)
	require.NoError(t, h.db.CreateAPIKey(context.Background(), k, "other"))

	g := h.do(http.MethodGet, "/call/"+id, key, "", nil)
	require.Equal(t, http.StatusNotFound, g.Status, g.Raw)
	g = h.do(http.MethodGet, "/call/"+uuid.NewString(), h.key, "", nil)
	require.Equal(t, http.StatusNotFound, g.Status, g.Raw)
	g = h.do(http.MethodGet, "/call/not-a-uuid", h.key, "", nil)
	requireFieldError(t, g, "call_id", "UUID")
	g = h.do(http.MethodGet, "/call/"+id, "", "", nil)
	require.Equal(t, http.StatusUnauthorized, g.Status, g.Raw)
}

func TestEnqueueFailureFailsTheCallWith503(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := testenv.Postgres(t)
	rdb := testenv.Redis(t)
	log := testenv.Logger(t)
	hub, err := notify.NewHub(ctx, rdb, testenv.Name("ch_"), log)
	require.NoError(t, err)
	t.Cleanup(func() { hub.Close() })
	// A client of a Redis that is not there.
	dead := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	svc := calls.New(db, queue.NewEnqueuer(dead, queue.DefaultDialOptions()), hub, nil, log, calls.Config{})
	api, err := httpapi.New(svc, db, nil, log, httpapi.Config{DefaultWait: time.Second})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	tenant, assistant := uuid.New(), uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	k, key := dialq.NewAPIKey(tenant)
	require.NoError(t, db.CreateAPIKey(ctx, k, "k"))
	require.NoError(t, db.SaveAssistant(ctx, &dialq.Assistant{ID: assistant, TenantID: tenant, Name: "a", AgentName: "a"}))
	require.NoError(t, db.SaveTrunk(ctx, &dialq.Trunk{ID: "ST_t", TenantID: tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_lk"}))

	b, _ := json.Marshal(map[string]any{"assistant_id": assistant, "trunk_id": "ST_t", "to_number": "+15550200000", "call_service": "twilio"})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/call/outbound", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := checkedClient(t).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.Equal(t, "unavailable", body["error"].(map[string]any)["code"])
	require.Contains(t, body["message"], "queue is unavailable")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}

func TestHealthAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	require.Equal(t, http.StatusOK, h.do(http.MethodGet, "/healthz", "", "", nil).Status)
	require.Equal(t, http.StatusOK, h.do(http.MethodGet, "/readyz", "", "", nil).Status)
	r := h.do(http.MethodGet, "/nope", "", "", nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, false, r.Body["success"])
	require.Equal(t, http.StatusMethodNotAllowed, h.do(http.MethodDelete, "/call/outbound", h.key, "", nil).Status)
}
