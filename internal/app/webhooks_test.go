package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/testkit/openapicheck"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestWebhookThroughTheProcesses: the API and the worker as the binaries
// build them: an endpoint made over HTTP gets a call's status change,
// recorded by the store's state machine, signed, and the call's delivery
// log shows it delivered; the agent's report follows as call.report with
// the report in it.
func TestWebhookThroughTheProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn := testenv.Postgres(t)
	log := testenv.Logger(t)
	redis := app.Redis{Addr: testenv.Env(t, "REDIS_ADDR")}
	q := testenv.Name("q_")
	t.Cleanup(func() {
		insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: redis.Addr})
		_ = insp.DeleteQueue(q, true)
		insp.Close()
	})

	api, err := app.NewAPI(ctx, app.APIConfig{Addr: "127.0.0.1:0", DatabaseURL: dsn, Redis: redis, WebhookAllowPrivate: true}, log)
	require.NoError(t, err)
	t.Cleanup(api.Close)
	server := dialer.DefaultServerOptions(q)
	server.Concurrency = 4
	server.ShutdownTimeout = time.Second
	w, err := app.NewWorker(ctx, app.WorkerConfig{DatabaseURL: dsn, Redis: redis, SweepAge: time.Minute, Server: server,
		LiveKit: livekit.Config{URL: "http://127.0.0.1:1"}, RingTimeout: 30 * time.Second,
		Webhooks: app.WebhookConfig{AllowPrivate: true, SweepAge: time.Second}}, log)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { _ = api.Run(runCtx); done <- struct{}{} }()
	go func() { _ = w.Run(runCtx); done <- struct{}{} }()
	t.Cleanup(func() { stop(); <-done; <-done })

	tenant := uuid.New()
	require.NoError(t, w.DB.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "acme"}))
	k, key := dialq.NewAPIKey(tenant)
	require.NoError(t, w.DB.CreateAPIKey(ctx, k, "test"))

	got := make(chan *http.Request, 10)
	bodies := make(chan []byte, 10)
	rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	t.Cleanup(rc.Close)

	// Each answer is checked against the OpenAPI document the API serves.
	checker, err := openapicheck.New(httpapi.OpenAPIDocument())
	require.NoError(t, err)
	client := checker.Client(t)
	call := func(method, path, body string) map[string]any {
		req, err := http.NewRequest(method, api.URL()+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Equal(t, true, out["success"], out)
		return out
	}
	ep := call(http.MethodPost, "/webhooks", `{"url":"`+rc.URL+`/in","events":["call.dialing","call.report"]}`)["data"].(map[string]any)

	c := &dialq.Call{ID: uuid.New(), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_t", ToNumber: "+15550100000",
		Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err = w.DB.CreateCall(ctx, c)
	require.NoError(t, err)
	require.NoError(t, w.DB.MarkDialing(ctx, c.ID, "phone-"+c.ToNumber, time.Now()))

	var r *http.Request
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook arrived")
	}
	wh, err := standardwebhooks.NewWebhook(ep["secret"].(string))
	require.NoError(t, err)
	require.NoError(t, wh.Verify(<-bodies, r.Header))

	require.Eventually(t, func() bool {
		list := call(http.MethodGet, "/call/"+c.ID.String()+"/webhooks", "")["data"].([]any)
		return len(list) == 1 && list[0].(map[string]any)["status"] == "delivered"
	}, 5*time.Second, 20*time.Millisecond)

	call(http.MethodPost, "/call/"+c.ID.String()+"/report", `{"answered_by":"machine","disposition":"voicemail"}`)
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no call.report webhook arrived")
	}
	body := <-bodies
	require.NoError(t, wh.Verify(body, r.Header))
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Status string         `json:"status"`
			Report map[string]any `json:"report"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &ev))
	require.Equal(t, "call.report", ev.Type)
	require.Equal(t, "dialing", ev.Data.Status)
	require.Equal(t, "machine", ev.Data.Report["answered_by"])
	require.Equal(t, "voicemail", ev.Data.Report["disposition"])
}
