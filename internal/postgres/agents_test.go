package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestAssistantAgentWait: an assistant waits for its agent unless told,
// 10 s unless told, and its calls keep what it said when they were accepted.
func TestAssistantAgentWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	tests := []struct {
		name string
		a    dialq.Assistant
		want time.Duration // the call's wait
	}{
		{name: "default", want: dialq.DefaultAgentJoinTimeout},
		{name: "own timeout", a: dialq.Assistant{AgentJoinTimeout: 2500 * time.Millisecond}, want: 2500 * time.Millisecond},
		{name: "without waiting", a: dialq.Assistant{DialWithoutAgent: true, AgentJoinTimeout: 3 * time.Second}},
	}
	for _, tt := range tests {
		a := tt.a
		a.ID, a.TenantID, a.Name, a.AgentName = uuid.New(), tenant, tt.name, "agent"
		require.NoError(t, db.SaveAssistant(ctx, &a))
		got, err := db.FindAssistant(ctx, tenant, a.ID)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, got.JoinTimeout(), tt.name)
		require.Equal(t, tt.a.DialWithoutAgent, got.DialWithoutAgent, tt.name)

		c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: a.ID, TrunkID: "ST_x",
			ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: time.Now(),
			AgentJoinTimeout: got.JoinTimeout()}
		_, err = db.CreateCall(ctx, c)
		require.NoError(t, err)
		stored, err := db.GetCall(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, tt.want, stored.AgentJoinTimeout, tt.name)
	}
}

// TestAgentJoinedAndReport: the agent's join marks its dispatch running and
// is a step on the timeline; a report is stored on the call whatever its
// status, the latest replacing the earlier, each one an event.
func TestAgentJoinedAndReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_x",
		ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err := db.CreateCall(ctx, c)
	require.NoError(t, err)
	require.NoError(t, db.RecordDispatch(ctx, c.ID, "AD_1", dialq.DispatchJoining))
	require.NoError(t, db.RecordAgentJoined(ctx, c.ID, "agent-AJ_1", 312*time.Millisecond))
	got, err := db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.DispatchRunning, got.DispatchState)
	require.Equal(t, dialq.StatusQueued, got.Status)
	require.Nil(t, got.Report)

	_, err = db.RecordFailed(ctx, c.ID, dialq.Failure{Reason: dialq.ReasonInternal, Message: "x"}, time.Now())
	require.NoError(t, err)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, db.RecordReport(ctx, c.ID, dialq.Report{AnsweredBy: dialq.AnsweredByMachine, ReportedAt: at}))
	require.NoError(t, db.RecordReport(ctx, c.ID, dialq.Report{AnsweredBy: dialq.AnsweredByHuman, Disposition: "interested",
		Summary: "Wants a demo.", Data: map[string]any{"n": 2.5}, ReportedAt: at}))
	got, err = db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, &dialq.Report{AnsweredBy: dialq.AnsweredByHuman, Disposition: "interested", Summary: "Wants a demo.",
		Data: map[string]any{"n": 2.5}, ReportedAt: at}, got.Report)

	ev, err := db.Events(ctx, c.ID)
	require.NoError(t, err)
	var kinds, details []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
		details = append(details, e.Detail)
		require.False(t, e.Ignored, e.Kind)
	}
	require.Equal(t, []string{"queued", "agent_dispatched", "agent_joined", "failed", "report", "report"}, kinds)
	require.Equal(t, "agent-AJ_1 joined after 312ms", details[2])
	require.Equal(t, "answered_by=human disposition=interested", details[5])
}
