package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCallIDPathTakesTheAssistantIDRule: GET /call/{id}, GET
// /call/{id}/events and POST /call/{id}/hangup take a call id by the rule POST /call/outbound takes
// assistant_id by, so the same spelling is never a UUID in one place and
// not in another.
func TestCallIDPathTakesTheAssistantIDRule(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.post("/call/outbound?wait=0", h.body(nil))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	assistant := h.assistant.String()

	tests := []struct {
		name     string
		spell    func(string) string
		accepted bool
	}{
		{"canonical", func(s string) string { return s }, true},
		{"upper case", strings.ToUpper, true},
		{"braces", func(s string) string { return "{" + s + "}" }, false},
		{"urn", func(s string) string { return "urn:uuid:" + s }, false},
		{"no hyphens", func(s string) string { return strings.ReplaceAll(s, "-", "") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			get := h.do(http.MethodGet, "/call/"+tt.spell(id), h.key, "", nil)
			events := h.do(http.MethodGet, "/call/"+tt.spell(id)+"/events", h.key, "", nil)
			hangup := h.do(http.MethodPost, "/call/"+tt.spell(id)+"/hangup", h.key, "", nil)
			post := h.post("/call/outbound?wait=0", h.body(func(b map[string]any) { b["assistant_id"] = tt.spell(assistant) }))
			if !tt.accepted {
				requireFieldError(t, get, "call_id", "UUID")
				requireFieldError(t, events, "call_id", "UUID")
				requireFieldError(t, hangup, "call_id", "UUID")
				requireFieldError(t, post, "assistant_id", "UUID")
				return
			}
			require.Equal(t, http.StatusOK, get.Status, get.Raw)
			require.Equal(t, id, get.Body["data"].(map[string]any)["call_id"])
			require.Equal(t, http.StatusOK, events.Status, events.Raw)
			// Found: the queued call is canceled the first time, over after.
			require.Contains(t, []int{http.StatusOK, http.StatusConflict}, hangup.Status, hangup.Raw)
			require.Equal(t, http.StatusAccepted, post.Status, post.Raw)
		})
	}
}
