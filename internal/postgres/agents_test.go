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

// TestAssistantKeepsCallsWhenTheAgentLeaves: an agent hangs up by leaving
// unless its assistant says otherwise; the call keeps what the assistant
// said when it was accepted, and each agent_left records when, the latest
// winning, without changing the call's status.
func TestAssistantKeepsCallsWhenTheAgentLeaves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	for _, keep := range []bool{false, true} {
		a := dialq.Assistant{ID: uuid.New(), TenantID: tenant, AgentName: "agent", KeepCallOnAgentLeave: keep}
		require.NoError(t, db.SaveAssistant(ctx, &a))
		got, err := db.FindAssistant(ctx, tenant, a.ID)
		require.NoError(t, err)
		require.Equal(t, keep, got.KeepCallOnAgentLeave)

		c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: a.ID, TrunkID: "ST_x",
			ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: time.Now(),
			KeepCallOnAgentLeave: got.KeepCallOnAgentLeave}
		_, err = db.CreateCall(ctx, c)
		require.NoError(t, err)
		a.KeepCallOnAgentLeave = !keep // a later edit changes no call already accepted
		require.NoError(t, db.SaveAssistant(ctx, &a))
		stored, err := db.GetCall(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, keep, stored.KeepCallOnAgentLeave)
		require.Nil(t, stored.AgentLeftAt)
	}

	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_x",
		ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err := db.CreateCall(ctx, c)
	require.NoError(t, err)
	require.NoError(t, db.MarkDialing(ctx, c.ID, "phone-+15550100000", time.Now()))
	_, err = db.RecordAnswered(ctx, c.ID, dialq.Participant{SID: "PA_1", Identity: "phone-+15550100000"}, time.Now())
	require.NoError(t, err)
	first := time.Now().UTC().Truncate(time.Microsecond)
	require.NoError(t, db.RecordAgentLeft(ctx, c.ID, "agent-1 left", first))
	second := first.Add(time.Second)
	require.NoError(t, db.RecordAgentLeft(ctx, c.ID, "agent-2 left", second))
	got, err := db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusAnswered, got.Status, "leaving changes no status")
	require.Equal(t, second, got.AgentLeftAt.UTC())
	ev, err := db.Events(ctx, c.ID)
	require.NoError(t, err)
	last := ev[len(ev)-1]
	require.Equal(t, "agent_left", last.Kind)
	require.Equal(t, "agent-2 left", last.Detail)
	require.Empty(t, last.Status)

	// Once the call is over, a late one is kept as ignored and changes nothing.
	_, err = db.RecordEnded(ctx, c.ID, dialq.Completed(dialq.EndedByPhone, "phone hung up"), time.Now())
	require.NoError(t, err)
	require.NoError(t, db.RecordAgentLeft(ctx, c.ID, "agent-3 left", second.Add(time.Second)))
	got, err = db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, second, got.AgentLeftAt.UTC())
	ev, err = db.Events(ctx, c.ID)
	require.NoError(t, err)
	require.True(t, ev[len(ev)-1].Ignored)
}
