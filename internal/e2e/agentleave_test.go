package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestAgentLeavingEndsTheCallUnlessKept: LiveKit SIP calls, ended by
// livekit-server's webhooks (DIALQ_TEST_WEBHOOK_ADDR) and the reconciler's
// no-agent watchdog. By default the agent leaving the room hangs up: the
// phone is removed and the call completes, ended by the agent. A call of
// an assistant that keeps calls when the agent leaves goes on, the leaving
// an agent_left event; the watchdog leaves it alone while the agent is in
// the room, however long after the answer, and hangs it up (failed,
// agent_left) DIALQ_AGENT_GRACE after the agent left.
func TestAgentLeavingEndsTheCallUnlessKept(t *testing.T) {
	const grace = 1500 * time.Millisecond
	s := newStack(t, stackOptions{script: talkScript, agent: true, keepCallOnAgentLeave: true,
		apiAddr:   testenv.Env(t, "DIALQ_TEST_WEBHOOK_ADDR"),
		reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond, AgentGrace: grace}})
	ctx := context.Background()
	ends := uuid.New()
	require.NoError(t, s.db.SaveAssistant(ctx, &dialq.Assistant{ID: ends, TenantID: s.tenant, Name: "ends",
		Prompt: "Hello {{name}}", AgentName: s.agentName}))

	place := func(assistant uuid.UUID, number string) *dialq.Call {
		t.Helper()
		body := s.body(number, "twilio", s.twilio)
		body["assistant_id"] = assistant.String()
		r := s.do(http.MethodPost, "/call/outbound", body)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		c := s.call(r.Body["data"].(map[string]any)["call_id"].(string))
		require.Equal(t, dialq.StatusAnswered, c.Status)
		return c
	}
	awaitEnd := func(c *dialq.Call) *dialq.Call {
		t.Helper()
		waitFor(t, 15*time.Second, "the call's end", func() bool {
			c = s.call(c.ID.String())
			return c.Status.Terminal()
		})
		return c
	}

	t.Run("by default the agent hangs up by leaving", func(t *testing.T) {
		c := place(ends, "+15550300062")
		require.False(t, c.KeepCallOnAgentLeave)
		require.NoError(t, s.agent.Leave(c.RoomName))
		c = awaitEnd(c)
		require.Equal(t, dialq.StatusCompleted, c.Status)
		require.Equal(t, dialq.EndedByAgent, c.EndedBy)
		require.Equal(t, "agent left", c.EndReason)
		waitFor(t, 10*time.Second, "the phone out of the room", func() bool { return !s.inRoom(c.RoomName, c.ParticipantIdentity) })
	})

	t.Run("a kept call goes on until the grace after the leaving", func(t *testing.T) {
		c := place(s.assistant, "+15550300072")
		require.True(t, c.KeepCallOnAgentLeave)
		// Past the grace after the answer, with the agent in the room.
		waitFor(t, 10*time.Second, "the grace after the answer", func() bool { return time.Since(*c.AnsweredAt) > grace+600*time.Millisecond })
		require.Equal(t, dialq.StatusAnswered, s.call(c.ID.String()).Status, "the watchdog found the agent")

		require.NoError(t, s.agent.Leave(c.RoomName))
		waitFor(t, 10*time.Second, "agent_left on the timeline", func() bool { return s.call(c.ID.String()).AgentLeftAt != nil })
		left := s.call(c.ID.String())
		require.Equal(t, dialq.StatusAnswered, left.Status, "the leaving ended nothing")
		require.True(t, s.inRoom(c.RoomName, c.ParticipantIdentity), "the phone stays")
		requireLastEvent(t, s, c, "agent_left", "")

		c = awaitEnd(c)
		require.Equal(t, dialq.StatusFailed, c.Status)
		require.Equal(t, dialq.ReasonAgentLeft, c.FailureReason)
		require.Equal(t, dialq.EndedByDialq, c.EndedBy)
		require.Contains(t, c.EndReason, "no agent came back within 1.5s")
		since := c.EndedAt.Sub(*left.AgentLeftAt)
		require.GreaterOrEqual(t, since, grace, "not before the grace after the leaving")
		require.Less(t, since, grace+3*time.Second, "within a few reconciler intervals of it")
		waitFor(t, 10*time.Second, "the phone out of the room", func() bool { return !s.inRoom(c.RoomName, c.ParticipantIdentity) })
	})
}

// TestReconcilerFindsTheAgentGone: no webhook reaches this API, as when it
// was down. An agent that joined and left is found gone by the reconciler
// once the grace after the answer is over: by default the call ends as the
// agent's webhook would have ended it (completed, ended by the agent); a
// kept call gets an agent_left from the reconciler and is hung up the grace
// after that (failed, agent_left).
func TestReconcilerFindsTheAgentGone(t *testing.T) {
	t.Parallel()
	const grace = time.Second
	s := newStack(t, stackOptions{script: talkScript, agent: true, keepCallOnAgentLeave: true,
		reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond, AgentGrace: grace}})
	ctx := context.Background()
	ends := uuid.New()
	require.NoError(t, s.db.SaveAssistant(ctx, &dialq.Assistant{ID: ends, TenantID: s.tenant, Name: "ends",
		Prompt: "Hello {{name}}", AgentName: s.agentName}))
	place := func(assistant uuid.UUID, number string) *dialq.Call {
		t.Helper()
		body := s.body(number, "twilio", s.twilio)
		body["assistant_id"] = assistant.String()
		r := s.do(http.MethodPost, "/call/outbound", body)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		c := s.call(r.Body["data"].(map[string]any)["call_id"].(string))
		require.NoError(t, s.agent.Leave(c.RoomName))
		return c
	}
	byDefault := place(ends, "+15550300082")
	kept := place(s.assistant, "+15550300092")
	for _, c := range []*dialq.Call{byDefault, kept} {
		waitFor(t, 15*time.Second, "the call's end", func() bool { return s.call(c.ID.String()).Status.Terminal() })
		waitFor(t, 10*time.Second, "the phone out of the room", func() bool { return !s.inRoom(c.RoomName, c.ParticipantIdentity) })
	}

	c := s.call(byDefault.ID.String())
	require.Equal(t, dialq.StatusCompleted, c.Status)
	require.Equal(t, dialq.EndedByAgent, c.EndedBy)
	require.Equal(t, "agent left (found by the reconciler)", c.EndReason)

	c = s.call(kept.ID.String())
	require.Equal(t, dialq.StatusFailed, c.Status)
	require.Equal(t, dialq.ReasonAgentLeft, c.FailureReason)
	require.Equal(t, dialq.EndedByDialq, c.EndedBy)
	require.NotNil(t, c.AgentLeftAt)
	require.GreaterOrEqual(t, c.AgentLeftAt.Sub(*c.AnsweredAt), grace, "found once the grace after the answer was over")
	require.GreaterOrEqual(t, c.EndedAt.Sub(*c.AgentLeftAt), grace, "and hung up the grace after that")
	ev, err := s.db.Events(ctx, c.ID)
	require.NoError(t, err)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
		if e.Kind == "agent_left" {
			require.Contains(t, e.Detail, "found by the reconciler")
		}
	}
	require.Equal(t, []string{"answered", "agent_left", "failed"}, kinds[len(kinds)-3:])
}
