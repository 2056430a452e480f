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

// TestTextThatIsNotValidUnicodeIsRefused: a NUL in metadata was a 500 (jsonb
// refuses it) and invalid UTF-8 or a lone surrogate escape was silently
// replaced by U+FFFD; each is now a 400 naming the field, for values and
// keys in metadata and for the top-level strings.
func TestTextThatIsNotValidUnicodeIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := `"assistant_id":"` + h.assistant.String() + `","trunk_id":"` + h.twilio + `","call_service":"twilio"`
	md := func(extra string) []byte {
		return []byte(`{` + base + `,"to_number":"+15550200000","metadata":{"name":"a","company":"b",` + extra + `}}`)
	}
	tests := []struct {
		name, field, msg string
		body             []byte
	}{
		{"NUL in value", "metadata.x", "NUL", md(`"x":"a\u0000b"`)},
		{"invalid UTF-8 in value", "metadata.x", "valid UTF-8", md("\"x\":\"a\xffb\"")},
		{"truncated UTF-8 in value", "metadata.x", "valid UTF-8", md("\"x\":\"\xe2\x82\"")},
		{"lone high surrogate", "metadata.x", `\ud800 is half`, md(`"x":"a\ud800b"`)},
		{"lone low surrogate", "metadata.x", `\udc00 is half`, md(`"x":"\udc00"`)},
		{"reversed pair", "metadata.x", "surrogate", md(`"x":"\ude00\ud83d"`)},
		{"nested NUL", "metadata.deep.list[0]", "NUL", md(`"deep":{"list":["\u0000"]}`)},
		{"NUL in nested key", "metadata.deep.k\x00", "key must not contain the NUL", md(`"deep":{"k\u0000":1}`)},
		{"invalid UTF-8 in key", "metadata.k\uFFFD", "key must be valid UTF-8", md("\"k\xff\":1")},
		{"two invalid keys are no duplicate", "metadata.k\uFFFD", "key must be valid UTF-8", md("\"k\xff\":1,\"k\xfe\":2")},
		{"invalid UTF-8 in to_number", "to_number", "valid UTF-8", []byte(`{` + base + ",\"to_number\":\"+1555\xff\"}")},
		{"NUL in trunk_id", "trunk_id", "ST_", []byte(`{"assistant_id":"` + h.assistant.String() + `","trunk_id":"ST_a\u0000","call_service":"twilio","to_number":"+15550200000"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodPost, "/call/outbound?wait=0", h.key, "application/json", tt.body)
			requireFieldError(t, r, tt.field, tt.msg)
		})
	}
	require.Equal(t, "0", testenv.SQL(t, h.dsn, `SELECT count(*)::text FROM calls`))

	r := h.do(http.MethodPost, "/call/outbound?wait=0", h.key, "application/json", md(`"x":"\ud83d\ude00 Zo\u00eb \\ud800"`))
	require.Equal(t, http.StatusAccepted, r.Status, "a surrogate pair and an escaped backslash are fine: %s", r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	g := h.do(http.MethodGet, "/call/"+id, h.key, "", nil)
	require.Equal(t, "😀 Zoë \\ud800", g.Body["data"].(map[string]any)["metadata"].(map[string]any)["x"])
}
