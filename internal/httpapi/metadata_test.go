package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

// rawBody is a POST /call/outbound body with metadata written as raw JSON,
// so a test can send numbers and strings encoding/json would not write.
func (h *harness) rawBody(metadata string) []byte {
	return []byte(`{"assistant_id":"` + h.assistant.String() + `","trunk_id":"` + h.twilio +
		`","to_number":"+15550200000","call_service":"twilio","metadata":` + metadata + `}`)
}

// TestMetadataNumbersRoundTripOrAreRefused: a metadata number the worker
// could not read back as sent (1e400 does not fit a float64) is refused
// naming the field, a replay under the same Idempotency-Key too, and nothing
// is stored or queued; numbers that fit come back from GET /call/{id} and
// from the worker's read as they were sent.
func TestMetadataNumbersRoundTripOrAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tt := range []struct{ metadata, field string }{
		{`{"name":"a","company":"b","zz":1e400}`, "metadata.zz"},
		{`{"name":"a","company":"b","id":12345678901234567890}`, "metadata.id"},
		{`{"name":"a","company":"b","deep":{"list":[1,-1e400]}}`, "metadata.deep.list[1]"},
	} {
		for range 2 { // the second is an idempotent replay of the first
			r := h.doHeaders(http.MethodPost, "/call/outbound?wait=0", h.rawBody(tt.metadata), map[string]string{
				"Authorization": "Bearer " + h.key, "Content-Type": "application/json", "Idempotency-Key": "k-" + tt.field})
			requireFieldError(t, r, tt.field, "64-bit float")
		}
	}
	require.Equal(t, "0", testenv.SQL(t, h.dsn, `SELECT count(*)::text FROM calls`))
	require.Empty(t, h.queuedTasks())

	r := h.do(http.MethodPost, "/call/outbound?wait=0", h.key, "application/json",
		h.rawBody(`{"name":"a","company":"b","n":1.5,"e":1e2,"tiny":5e-324,"neg":-0.25,"big":9007199254740992}`))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	want := map[string]any{"name": "a", "company": "b", "n": 1.5, "e": 100.0, "tiny": 5e-324, "neg": -0.25, "big": 9007199254740992.0}
	g := h.do(http.MethodGet, "/call/"+id, h.key, "", nil)
	require.Equal(t, http.StatusOK, g.Status, g.Raw)
	require.Equal(t, want, g.Body["data"].(map[string]any)["metadata"])
	c, err := h.db.GetCall(context.Background(), uuid.MustParse(id)) // as the worker reads it
	require.NoError(t, err)
	require.Equal(t, want, c.Metadata)
}
