package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// TestNoAgentNobodyRung: an assistant whose agent is not running (nothing
// registered under its agent name) gets its calls failed as
// agent_unavailable after its join timeout, with a 503 naming the agent, and
// the phone is never dialed: a callee would have answered to dead air.
func TestNoAgentNobodyRung(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{waitForAgent: true, agentJoinTimeout: 1500 * time.Millisecond,
		script: sipdouble.Always(sipdouble.Outcome{Code: 200})})
	started := time.Now()
	r := s.do(http.MethodPost, "/call/outbound", s.body("+15550200000", "twilio", s.twilio))
	took := time.Since(started)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	e := r.Body["error"].(map[string]any)
	require.Equal(t, dialq.EUNAVAILABLE, e["code"])
	require.Equal(t, string(dialq.ReasonAgentUnavailable), e["reason"])
	require.Contains(t, r.Body["message"], s.agentName)
	require.Contains(t, r.Body["message"], "1.5s")
	require.GreaterOrEqual(t, took, 1500*time.Millisecond, "waited the join timeout")
	t.Logf("answered 503 after %s", took.Round(time.Millisecond))

	id := r.Body["data"].(map[string]any)["call_id"].(string)
	c := s.call(id)
	require.Equal(t, dialq.StatusFailed, c.Status)
	require.Equal(t, dialq.ReasonAgentUnavailable, c.FailureReason)
	require.Equal(t, 1, c.Attempts, "not retried")
	require.Nil(t, c.DialedAt)
	require.Equal(t, dialq.DispatchJoining, c.DispatchState)
	require.Zero(t, s.dialsTo("+15550200000"), "nobody rung")

	g := s.do(http.MethodGet, "/call/"+id, nil)
	var kinds []string
	for _, e := range g.Body["data"].(map[string]any)["events"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	require.Equal(t, []string{"queued", "attempt", "room_created", "agent_dispatched", "failed"}, kinds)
}
