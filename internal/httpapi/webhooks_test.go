package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// publicURL is an endpoint the API's default guard lets through: a public
// address, never called here (no worker runs in these tests).
const publicURL = "https://93.184.215.14/dialq"

func (h *harness) createWebhook(key string, body any) response {
	h.t.Helper()
	return h.doJSON(http.MethodPost, "/webhooks", key, body)
}

func (h *harness) doJSON(method, path, key string, body any) response {
	h.t.Helper()
	if body == nil {
		return h.do(method, path, key, "", nil)
	}
	b, ok := body.([]byte)
	if !ok {
		var err error
		b, err = json.Marshal(body)
		require.NoError(h.t, err)
	}
	return h.do(method, path, key, "application/json", b)
}

// statusEvent records a status change of call as the call state machine
// does, which makes the call's deliveries.
func (h *harness) statusEvent(call uuid.UUID, status string) {
	h.t.Helper()
	testenv.SQL(h.t, h.dsn, `WITH u AS (UPDATE calls SET status = $2 WHERE id = $1 RETURNING id)
		INSERT INTO call_events (call_id, kind, status) SELECT id, $2, $2 FROM u RETURNING call_id::text`, call, status)
}

func TestWebhookEndpointLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.createWebhook(h.key, map[string]any{"url": publicURL})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	id := data["id"].(string)
	require.Equal(t, "/webhooks/"+id, r.Header.Get("Location"))
	require.Equal(t, publicURL, data["url"])
	secret := data["secret"].(string)
	b64, ok := strings.CutPrefix(secret, "whsec_")
	require.True(t, ok, secret)
	key, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(key), 24)
	var events []string
	for _, e := range data["events"].([]any) {
		events = append(events, e.(string))
	}
	require.Equal(t, dialq.WebhookEvents(), events, "every event when events is left out")
	require.Contains(t, events, "call.no_answer")
	require.Contains(t, events, "call.report")

	r = h.createWebhook(h.key, map[string]any{"url": publicURL, "events": []string{"call.completed", "call.completed", "call.failed"}})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	require.Equal(t, []any{"call.completed", "call.failed"}, r.Body["data"].(map[string]any)["events"])

	r = h.doJSON(http.MethodGet, "/webhooks", h.key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	list := r.Body["data"].([]any)
	require.Len(t, list, 2)
	require.NotContains(t, r.Raw, "whsec_", "the list shows no secret")
	require.Equal(t, id, list[0].(map[string]any)["id"])

	r = h.doJSON(http.MethodDelete, "/webhooks/"+id, h.key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = h.doJSON(http.MethodDelete, "/webhooks/"+id, h.key, nil)
	require.Equal(t, http.StatusNotFound, r.Status, r.Raw)
	r = h.doJSON(http.MethodGet, "/webhooks", h.key, nil)
	require.Len(t, r.Body["data"].([]any), 1)
}

func TestWebhookBadInputNamesTheField(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name  string
		body  any
		field string
		msg   string
	}{
		{"no url", map[string]any{}, "url", "required"},
		{"url not a string", map[string]any{"url": 5}, "url", "wrong type"},
		{"ftp", map[string]any{"url": "ftp://example.com/"}, "url", "http or https"},
		{"userinfo", map[string]any{"url": "https://u:p@example.com/"}, "url", "user name"},
		{"loopback", map[string]any{"url": "http://127.0.0.1:9000/"}, "url", "loopback"},
		{"localhost", map[string]any{"url": "http://localhost:9000/"}, "url", "resolves to 127.0.0.1"},
		{"link-local", map[string]any{"url": "http://169.254.169.254/latest/meta-data"}, "url", "link-local"},
		{"private", map[string]any{"url": "http://10.0.0.8/"}, "url", "private"},
		{"unknown event", map[string]any{"url": publicURL, "events": []string{"call.answered", "call.exploded"}}, "events[1]", "not an event"},
		{"no events", map[string]any{"url": publicURL, "events": []string{}}, "events", "at least one"},
		{"events not a list", map[string]any{"url": publicURL, "events": "call.answered"}, "events", "wrong type"},
		{"unknown field", map[string]any{"url": publicURL, "secret": "mine"}, "secret", "not a known field"},
		{"not JSON", []byte(`{"url":`), "body", "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireFieldError(t, h.createWebhook(h.key, tt.body), tt.field, tt.msg)
		})
	}
	requireFieldError(t, h.doJSON(http.MethodDelete, "/webhooks/nope", h.key, nil), "webhook_id", "UUID")
	requireFieldError(t, h.doJSON(http.MethodGet, "/call/nope/webhooks", h.key, nil), "call_id", "UUID")

	ep := h.createWebhook(h.key, map[string]any{"url": publicURL}).Body["data"].(map[string]any)["id"].(string)
	path := "/webhooks/" + ep + "/redeliver"
	requireFieldError(t, h.doJSON(http.MethodPost, path, h.key, map[string]any{"call_id": "x"}), "call_id", "UUID")
	requireFieldError(t, h.doJSON(http.MethodPost, path, h.key, map[string]any{"delivery_id": 0}), "delivery_id", "above 0")
	requireFieldError(t, h.doJSON(http.MethodPost, path, h.key, map[string]any{"delivery_id": "7"}), "delivery_id", "wrong type")
	requireFieldError(t, h.doJSON(http.MethodPost, path, h.key, map[string]any{"call_id": uuid.NewString(), "delivery_id": 3}), "delivery_id", "one or neither")
	requireFieldError(t, h.doJSON(http.MethodPost, path, h.key, map[string]any{"calls": 1}), "calls", "not a known field")
}

// TestWebhookDeliveriesShowOnTheCall: a status change (the creation,
// queued, is the first) makes one delivery per endpoint that takes it,
// listed on the call in the order of its events with its webhook-id; a
// redelivery of it is accepted.
func TestWebhookDeliveriesShowOnTheCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	all := h.createWebhook(h.key, map[string]any{"url": publicURL}).Body["data"].(map[string]any)["id"].(string)
	h.createWebhook(h.key, map[string]any{"url": publicURL + "/done", "events": []string{"call.completed"}})
	call := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200001", time.Now())
	h.statusEvent(call.ID, "dialing")

	r := h.doJSON(http.MethodGet, "/call/"+call.ID.String()+"/webhooks", h.key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	list := r.Body["data"].([]any)
	require.Len(t, list, 2, "only the endpoint that takes every event")
	require.Equal(t, "call.queued", list[0].(map[string]any)["event_type"])
	d := list[1].(map[string]any)
	require.Equal(t, all, d["endpoint_id"])
	require.Equal(t, "call.dialing", d["event_type"])
	require.Equal(t, "pending", d["status"])
	require.Regexp(t, `^msg_[0-9a-f]{32}$`, d["webhook_id"])
	require.Equal(t, []any{}, d["attempts"])
	require.NotEmpty(t, d["next_attempt_at"])

	id := int64(d["id"].(float64))
	r = h.doJSON(http.MethodPost, "/webhooks/"+all+"/redeliver", h.key, map[string]any{"delivery_id": id})
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	require.Equal(t, []any{float64(id)}, r.Body["data"].(map[string]any)["redelivered"])
	r = h.doJSON(http.MethodPost, "/webhooks/"+all+"/redeliver", h.key, nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	require.Equal(t, []any{}, r.Body["data"].(map[string]any)["redelivered"], "nothing was given up")
	r = h.doJSON(http.MethodGet, "/call/"+call.ID.String()+"/webhooks", h.key, nil)
	require.Equal(t, d["webhook_id"], r.Body["data"].([]any)[1].(map[string]any)["webhook_id"], "the same webhook-id")
}

// TestWebhooksAreTenantScoped: another tenant's endpoints, calls and
// deliveries are not found through any webhook endpoint.
func TestWebhooksAreTenantScoped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	otherTenant, otherAssistant, otherTrunk, otherKey := h.otherTenant()
	mine := h.createWebhook(h.key, map[string]any{"url": publicURL}).Body["data"].(map[string]any)["id"].(string)
	theirs := h.createWebhook(otherKey, map[string]any{"url": publicURL}).Body["data"].(map[string]any)["id"].(string)
	myCall := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200002", time.Now())
	theirCall := h.storeCall(otherTenant, otherAssistant, otherTrunk, "+15550200003", time.Now())
	h.statusEvent(myCall.ID, "dialing")
	h.statusEvent(theirCall.ID, "dialing")

	r := h.doJSON(http.MethodGet, "/webhooks", otherKey, nil)
	require.Len(t, r.Body["data"].([]any), 1)
	require.Equal(t, theirs, r.Body["data"].([]any)[0].(map[string]any)["id"])

	theirDelivery := h.doJSON(http.MethodGet, "/call/"+theirCall.ID.String()+"/webhooks", otherKey, nil).Body["data"].([]any)[0].(map[string]any)["id"]

	for _, tt := range []struct {
		method, path string
		body         any
	}{
		{http.MethodDelete, "/webhooks/" + theirs, nil},
		{http.MethodPost, "/webhooks/" + theirs + "/redeliver", nil},
		{http.MethodGet, "/call/" + theirCall.ID.String() + "/webhooks", nil},
		{http.MethodPost, "/webhooks/" + mine + "/redeliver", map[string]any{"call_id": theirCall.ID.String()}},
		{http.MethodPost, "/webhooks/" + mine + "/redeliver", map[string]any{"delivery_id": theirDelivery}},
		{http.MethodDelete, "/webhooks/" + uuid.NewString(), nil},
	} {
		r := h.doJSON(tt.method, tt.path, h.key, tt.body)
		require.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", tt.method, tt.path, r.Raw)
		require.Equal(t, "not_found", r.Body["error"].(map[string]any)["code"])
	}
	// The other tenant's endpoint is still there, and took no event of mine.
	r = h.doJSON(http.MethodGet, "/call/"+myCall.ID.String()+"/webhooks", h.key, nil)
	list := r.Body["data"].([]any)
	require.Len(t, list, 2, "call.queued and call.dialing")
	for _, d := range list {
		require.Equal(t, mine, d.(map[string]any)["endpoint_id"])
	}
	require.Equal(t, http.StatusOK, h.doJSON(http.MethodDelete, "/webhooks/"+theirs, otherKey, nil).Status)
}
