package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

// logLines returns the API's log lines with message msg.
func (h *harness) logLines(msg string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// insertUnreadableCall stores a call row the code cannot decode, as rows
// accepted before metadata numbers were checked could be: 1e400 is valid
// JSON and a valid Postgres numeric, but no float64.
func (h *harness) insertUnreadableCall() string {
	h.t.Helper()
	return testenv.SQL(h.t, h.dsn, `INSERT INTO calls (id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata, status)
		VALUES (gen_random_uuid(), $1, gen_random_uuid(), $2, '+15550200000', 'twilio', '{"zz": 1e400}', 'queued')
		RETURNING id::text`, h.tenant, h.twilio)
}

// TestFailedCallRequestLogsItsPathAndCallID: a request about a call that
// fails is logged with the path asked (not the route template /call/:id)
// and the call_id, so the line leads to the call.
func TestFailedCallRequestLogsItsPathAndCallID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.insertUnreadableCall()

	for _, path := range []string{"/call/" + id, "/call/" + id + "/hangup"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "/hangup") {
			method = http.MethodPost
		}
		r := h.do(method, path, h.key, "", nil)
		require.Equal(t, http.StatusInternalServerError, r.Status, r.Raw)
		require.Equal(t, "internal", r.Body["error"].(map[string]any)["code"])
		require.NotContains(t, r.Raw, "1e400", "the detail is logged, not shown")

		var line map[string]any
		for _, l := range h.logLines("request failed") {
			if l["path"] == path {
				line = l
			}
		}
		require.NotNil(t, line, "no request failed line with path %s in:\n%s", path, h.logs.String())
		require.Equal(t, id, line["call_id"])
		require.Equal(t, method, line["method"])
		require.Contains(t, line["route"], "/call/:id")
		require.Contains(t, line["err"], "decode metadata")
	}
}
