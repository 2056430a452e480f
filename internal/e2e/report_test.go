package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// TestAgentReportsBack: the agent finds in its job where and with what
// token to report; the token reports (and reaches hang-up) for its call
// only, until an hour after the call ended; the tenant's API key works too,
// another tenant's does not; the report is on the call and its timeline.
func TestAgentReportsBack(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{agent: true, script: sipdouble.Always(sipdouble.Outcome{Code: 200})})
	ctx := context.Background()

	r := s.do(http.MethodPost, "/call/outbound", s.body("+15550200000", "twilio", s.twilio))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	job, err := s.agent.WaitJob(jctx, r.Body["data"].(map[string]any)["room_name"].(string))
	require.NoError(t, err)
	var md dialq.DispatchMetadata
	require.NoError(t, json.Unmarshal([]byte(job.Metadata), &md))
	require.Equal(t, s.apiURL+"/call/"+id+"/report", md.ReportURL)
	require.True(t, strings.HasPrefix(md.ReportToken, dialq.ReportTokenPrefix), md.ReportToken)
	path := strings.TrimPrefix(md.ReportURL, s.apiURL)
	as := func(token string) map[string]string { return map[string]string{"Authorization": "Bearer " + token} }

	report := map[string]any{"answered_by": "human", "disposition": "callback_requested",
		"summary": "Asked to be called back on Tuesday.", "data": map[string]any{"callback_at": "2025-01-07T10:00:00+05:30", "score": 7}}
	rep := s.doHeaders(http.MethodPost, path, report, as(md.ReportToken))
	require.Equal(t, http.StatusOK, rep.Status, rep.Raw)
	got := rep.Body["data"].(map[string]any)["report"].(map[string]any)
	require.Equal(t, "human", got["answered_by"])
	require.Equal(t, "callback_requested", got["disposition"])
	require.Equal(t, map[string]any{"callback_at": "2025-01-07T10:00:00+05:30", "score": float64(7)}, got["data"])
	require.NotEmpty(t, got["reported_at"])

	g := s.do(http.MethodGet, "/call/"+id, nil)
	gd := g.Body["data"].(map[string]any)
	require.Equal(t, got, gd["report"])
	require.Equal(t, "answered", gd["status"], "a report changes no status")
	events := gd["events"].([]any)
	last := events[len(events)-1].(map[string]any)
	require.Equal(t, "report", last["kind"])
	require.Equal(t, "answered_by=human disposition=callback_requested", last["detail"])
	require.Nil(t, last["status"])

	// Field-named refusals.
	bad := s.doHeaders(http.MethodPost, path, map[string]any{"answered_by": "robot", "disposition": strings.Repeat("x", 65)}, as(md.ReportToken))
	require.Equal(t, http.StatusBadRequest, bad.Status, bad.Raw)
	var fields []string
	for _, f := range bad.Body["error"].(map[string]any)["fields"].([]any) {
		fields = append(fields, f.(map[string]any)["field"].(string))
	}
	require.Equal(t, []string{"answered_by", "disposition"}, fields)
	unknown := s.doHeaders(http.MethodPost, path, map[string]any{"outcome": "x"}, as(md.ReportToken))
	require.Equal(t, http.StatusBadRequest, unknown.Status, unknown.Raw)

	// The token of another call, a made-up one: 401.
	key, err := secret.ParseKey(s.secretKey)
	require.NoError(t, err)
	otherCall := dialq.NewReportTokens(key).Issue(&dialq.Call{ID: uuid.New(), TenantID: s.tenant})
	for name, tok := range map[string]string{"another call's": otherCall, "made up": dialq.ReportTokenPrefix + "bm9wZQ"} {
		r := s.doHeaders(http.MethodPost, path, report, as(tok))
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s token: %s", name, r.Raw)
	}
	// The token reaches nothing else of the call.
	ev := s.doHeaders(http.MethodGet, "/call/"+id, nil, as(md.ReportToken))
	require.Equal(t, http.StatusUnauthorized, ev.Status, ev.Raw)

	// The tenant's API key reports too; another tenant's finds no such call.
	require.Equal(t, http.StatusOK, s.do(http.MethodPost, path, map[string]any{"answered_by": "machine"}).Status)
	other := uuid.New()
	require.NoError(t, s.db.SaveTenant(ctx, &dialq.Tenant{ID: other, Name: "other"}))
	k, otherKey := dialq.NewAPIKey(other)
	require.NoError(t, s.db.CreateAPIKey(ctx, k, "other"))
	cross := s.doHeaders(http.MethodPost, path, report, as(otherKey))
	require.Equal(t, http.StatusNotFound, cross.Status, cross.Raw)

	// The agent hangs up with its token (another call's is refused), and
	// may still report after the end.
	h := s.doHeaders(http.MethodPost, "/call/"+id+"/hangup", nil, as(otherCall))
	require.Equal(t, http.StatusUnauthorized, h.Status, h.Raw)
	h = s.doHeaders(http.MethodPost, "/call/"+id+"/hangup", nil, as(md.ReportToken))
	require.Equal(t, http.StatusOK, h.Status, h.Raw)
	require.Equal(t, "completed", h.Body["data"].(map[string]any)["status"])
	require.Equal(t, http.StatusOK, s.doHeaders(http.MethodPost, path, report, as(md.ReportToken)).Status, "after the end")

	// An hour after the call ended, the token is refused; the key is not.
	// (The minute either side is TestReportTokens'.)
	sqlDB, err := sql.Open("postgres", s.dsn)
	require.NoError(t, err)
	defer sqlDB.Close()
	_, err = sqlDB.ExecContext(ctx, `UPDATE calls SET ended_at = ended_at - interval '61 minutes' WHERE id = $1`, id)
	require.NoError(t, err)
	late := s.doHeaders(http.MethodPost, path, report, as(md.ReportToken))
	require.Equal(t, http.StatusUnauthorized, late.Status, late.Raw)
	require.Equal(t, http.StatusOK, s.do(http.MethodPost, path, report).Status)
}
