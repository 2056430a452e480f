package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

func monitoringServer(t *testing.T, readOnly bool, user, pass string) (*httptest.Server, *harness) {
	t.Helper()
	h := newHarness(t)
	rdb := testenv.Redis(t)
	hub, err := notify.NewHub(t.Context(), rdb, testenv.Name("ch_"), testenv.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { hub.Close() })
	opts := queue.DefaultDialOptions()
	opts.Queue = h.queue
	svc := calls.New(h.db, queue.NewEnqueuer(asynq.NewClientFromRedisClient(rdb), opts), hub, nil, testenv.Logger(t), calls.Config{})
	api, err := httpapi.New(svc, h.db, nil, testenv.Logger(t),
		httpapi.Config{DefaultWait: time.Second, Monitoring: &httpapi.MonitoringConfig{
			Redis: asynq.RedisClientOpt{Addr: testenv.Env(t, "REDIS_ADDR")}, User: user, Password: pass, ReadOnly: readOnly}})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv, h
}

func get(t *testing.T, url string, auth func(*http.Request)) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if auth != nil {
		auth(req)
	}
	c := &http.Client{Transport: checkedTransport(t, nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestMonitoringNeedsAdminCredentials(t *testing.T) {
	t.Parallel()
	srv, h := monitoringServer(t, true, "admin", "s3cret")
	admin := func(r *http.Request) { r.SetBasicAuth("admin", "s3cret") }

	for _, tt := range []struct {
		name string
		auth func(*http.Request)
	}{
		{"none", nil},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("admin", "nope") }},
		{"tenant api key", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+h.key) }},
		{"tenant key as password", func(r *http.Request) { r.SetBasicAuth("admin", h.key) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, hdr := get(t, srv.URL+"/monitoring/", tt.auth)
			require.Equal(t, http.StatusUnauthorized, code)
			require.Contains(t, hdr.Get("WWW-Authenticate"), "Basic")
			require.JSONEq(t, `{"success":false,"message":"The dashboard needs the admin login (HTTP basic auth).","error":{"code":"unauthorized"}}`, body)
			code, _, _ = get(t, srv.URL+"/monitoring/api/queues", tt.auth)
			require.Equal(t, http.StatusUnauthorized, code)
		})
	}

	// The UI and its sub-paths (client-side routes, API, assets) are served.
	code, body, _ := get(t, srv.URL+"/monitoring/", admin)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "<html")
	code, body, _ = get(t, srv.URL+"/monitoring/queues/"+h.queue, admin)
	require.Equal(t, http.StatusOK, code, "deep links render the app, not a blank page")
	require.Contains(t, body, "<html")
	code, _, hdr := get(t, srv.URL+"/monitoring", admin)
	require.Equal(t, http.StatusMovedPermanently, code)
	require.Equal(t, "/monitoring/", hdr.Get("Location"))

	// A queued call shows up through the dashboard's API, payload redacted.
	r := h.post("/call/outbound?wait=0", h.body(nil))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	code, body, _ = get(t, srv.URL+"/monitoring/api/queues/"+h.queue+"/pending_tasks", admin)
	require.Equal(t, http.StatusOK, code, body)
	var list struct {
		Tasks []struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Payload string `json:"payload"`
		} `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.Tasks, 1)
	require.Equal(t, r.Body["data"].(map[string]any)["call_id"], list.Tasks[0].ID)
	require.Equal(t, queue.TypeCallDial, list.Tasks[0].Type)
	require.Contains(t, list.Tasks[0].Payload, "call_id")

	// Read-only: the dashboard's write API refuses.
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/monitoring/api/queues/"+h.queue+"/pending_tasks/"+list.Tasks[0].ID, nil)
	admin(req)
	resp, err := checkedClient(t).Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "a read-only dashboard must not delete tasks: %s", b)
	require.Contains(t, string(b), "read-only mode")
	require.Len(t, h.queuedTasks(), 1)
}

func TestMonitoringIsOffWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv, _ := monitoringServer(t, true, "", "")
	code, _, _ := get(t, srv.URL+"/monitoring/", nil)
	require.Equal(t, http.StatusNotFound, code)
}

func TestRedactPayload(t *testing.T) {
	t.Parallel()
	got := httpapi.RedactJSON([]byte(`{"call_id":"c1","to_number":"+15550200000","auth":{"password":"p","api_key":"k"},"list":[{"token":"t"}]}`))
	require.False(t, strings.Contains(got, `"p"`) || strings.Contains(got, `"k"`) || strings.Contains(got, `"t"`), got)
	require.Contains(t, got, `"call_id":"c1"`)
	require.Contains(t, got, `"********0000"`)
	require.Contains(t, got, "[redacted]")
	require.Equal(t, "<3 bytes, not JSON>", httpapi.RedactJSON([]byte("abc")))
}

func TestMaskPhoneNumbers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"dial +15550200000 through trunk ST_abc: busy", "dial ********0000 through trunk ST_abc: busy"},
		{"join room exotel-+918044319240-5ea06a324936 as phone-+918044319240", "join room exotel-*********9240-5ea06a324936 as phone-*********9240"},
		{"INVITE sip:08044319240@pstn.in1.exotel.com:5070 failed", "INVITE sip:*******9240@pstn.in1.exotel.com:5070 failed"},
		{"08044319240", "*******9240"},
		{"+15550200000", "********0000"},
		// Ids, times and counts are not numbers.
		{"call 01234567-28da-783a-9e84-012345678901: gone", "call 01234567-28da-783a-9e84-012345678901: gone"},
		{"trunk ST_0123456789 and ST_x01234567890", "trunk ST_0123456789 and ST_x01234567890"},
		{"delivery 12345678 at 2026-12-02T06:20:08Z, +05:30, port 5060", "delivery 12345678 at 2026-12-02T06:20:08Z, +05:30, port 5060"},
		{"v1.08044319240 and 0804431924000000000", "v1.08044319240 and 0804431924000000000"},
		{"a + b, ++, +", "a + b, ++, +"},
		{"", ""},
	} {
		require.Equal(t, tt.want, httpapi.MaskPhoneNumbers(tt.in), tt.in)
	}
}
