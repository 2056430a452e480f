package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestOutboundDialOptions: the per-call dial options are taken, kept on
// the call as accepted and shown by GET; a bad one is a 400 naming it, and
// nothing is queued.
func TestOutboundDialOptions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	require.NoError(t, h.db.SaveTrunk(ctx, &dialq.Trunk{ID: h.twilio, TenantID: h.tenant, Provider: dialq.ServiceTwilio,
		LiveKitTrunkID: "ST_livekit1", Numbers: []string{"+15550100000", "+15550100001"}}))

	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	with := func(k string, v any) []byte { return js(h.body(func(b map[string]any) { b[k] = v })) }
	for _, tt := range []struct {
		name       string
		body       []byte
		field, msg string
	}{
		{"ring not a number", with("ring_timeout", "30"), "ring_timeout", "must be a number of seconds"},
		{"ring out of range", with("ring_timeout", 300), "ring_timeout", "from 5 to 120"},
		{"max duration not a number", with("max_duration", true), "max_duration", "must be a number of seconds"},
		{"caller id not a string", with("caller_id", 15550100000), "caller_id", "must be a string"},
		{"caller id not the trunk's", with("caller_id", "+15550100009"), "caller_id", "+15550100000, +15550100001"},
		{"display name not a string", with("display_name", 5), "display_name", "must be a string"},
		{"headers not an object", with("sip_headers", []string{"X-A"}), "sip_headers", "must be an object"},
		{"header value not a string", with("sip_headers", map[string]any{"X-A": 1}), "sip_headers.X-A", "must be a string"},
		{"header value null", with("sip_headers", map[string]any{"X-A": nil}), "sip_headers.X-A", "must be a string"},
		{"header not X-", with("sip_headers", map[string]any{"Route": "<sip:evil>"}), "sip_headers.Route", "only X- headers"},
		{"dtmf bad digit", with("dtmf", "12x"), "dtmf", "0-9 * # A-D"},
		{"ringtone not a boolean", with("play_ringtone", "yes"), "play_ringtone", "true or false"},
		{"krisp not a boolean", with("krisp", 1), "krisp", "true or false"},
		{"wait until unknown", with("wait_until", "ringing"), "wait_until", "placed, answered"},
		{"wait until not a string", with("wait_until", 1), "wait_until", "must be a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodPost, "/call/outbound?wait=0", h.key, "application/json", tt.body)
			requireFieldError(t, r, tt.field, tt.msg)
		})
	}
	r := h.do(http.MethodPost, "/call/outbound?wait=0", h.key, "application/json", with("callback_url", "x"))
	requireFieldError(t, r, "callback_url", "allowed: assistant_id, trunk_id, to_number, call_service, metadata, ring_timeout")
	require.Empty(t, h.queuedTasks(), "nothing invalid reaches the queue")

	r = h.post("/call/outbound?wait=0", h.body(func(b map[string]any) {
		b["ring_timeout"] = 20
		b["max_duration"] = 600.5
		b["caller_id"] = "+15550100001"
		b["display_name"] = "Acme Clinic"
		b["sip_headers"] = map[string]any{"X-Lead-Id": "42"}
		b["dtmf"] = "ww12#"
		b["play_ringtone"] = true
		b["krisp"] = false
		b["wait_until"] = "answered"
	}))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	c, err := h.db.FindCall(ctx, h.tenant, uuid.MustParse(id))
	require.NoError(t, err)
	require.Equal(t, 20*1e9, float64(c.Options.Ring(0)))
	require.Equal(t, "+15550100001", c.Options.CallerID)
	require.Equal(t, map[string]string{"X-Lead-Id": "42"}, c.Options.SIPHeaders)
	require.Equal(t, dialq.WaitAnswered, c.Options.WaitUntil)

	g := h.do(http.MethodGet, "/call/"+id, h.key, "", nil)
	require.Equal(t, http.StatusOK, g.Status, g.Raw)
	require.Equal(t, map[string]any{"ring_timeout": 20.0, "max_duration": 600.5, "caller_id": "+15550100001",
		"display_name": "Acme Clinic", "sip_headers": map[string]any{"X-Lead-Id": "42"}, "dtmf": "ww12#",
		"play_ringtone": true, "krisp": false, "wait_until": "answered"}, g.Body["data"].(map[string]any)["dial_options"])

	// A call given none shows none.
	r = h.post("/call/outbound?wait=0", h.body(nil))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	g = h.do(http.MethodGet, "/call/"+r.Body["data"].(map[string]any)["call_id"].(string), h.key, "", nil)
	require.NotContains(t, g.Body["data"], "dial_options")
}
