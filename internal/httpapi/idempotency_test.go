package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func (h *harness) postWithKey(path, idemKey string, body any) response {
	h.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(h.t, err)
	return h.doHeaders(http.MethodPost, path, b, map[string]string{
		"Authorization": "Bearer " + h.key, "Content-Type": "application/json", "Idempotency-Key": idemKey})
}

// TestIdempotencyKeyPlacesOneCall: a client retrying after a timeout with
// the same Idempotency-Key gets the same call, and only one task is queued.
func TestIdempotencyKeyPlacesOneCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := h.postWithKey("/call/outbound?wait=0", "order-42", h.body(nil))
	require.Equal(t, http.StatusAccepted, first.Status, first.Raw)
	require.Empty(t, first.Header.Get("Idempotent-Replayed"))
	again := h.postWithKey("/call/outbound?wait=0", "order-42", h.body(nil))
	require.Equal(t, http.StatusAccepted, again.Status, again.Raw)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, first.Body["data"].(map[string]any)["call_id"], again.Body["data"].(map[string]any)["call_id"])
	require.Len(t, h.queuedTasks(), 1)

	// A different key is a different call.
	other := h.postWithKey("/call/outbound?wait=0", "order-43", h.body(nil))
	require.Equal(t, http.StatusAccepted, other.Status, other.Raw)
	require.NotEqual(t, first.Body["data"].(map[string]any)["call_id"], other.Body["data"].(map[string]any)["call_id"])
	require.Len(t, h.queuedTasks(), 2)

	// The same key with another request is refused.
	changed := h.postWithKey("/call/outbound?wait=0", "order-42", h.body(func(b map[string]any) { b["to_number"] = "+15550200001" }))
	require.Equal(t, http.StatusConflict, changed.Status, changed.Raw)
	require.Equal(t, "conflict", changed.Body["error"].(map[string]any)["code"])
	require.Contains(t, changed.Body["message"], "order-42")
	require.Len(t, h.queuedTasks(), 2)

	// A malformed key names the header.
	bad := h.postWithKey("/call/outbound?wait=0", "has space", h.body(nil))
	requireFieldError(t, bad, "Idempotency-Key", "printable ASCII")
}
