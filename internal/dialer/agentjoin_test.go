package dialer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// afterDispatch is what a first attempt does up to its dispatch.
var afterDispatch = []string{"StartAttempt", "CreateRoom", "RecordRoom", "CreateDispatch", "RecordDispatch"}

// dialAndAnswer is what follows once the call may be dialed and answers.
var dialAndAnswer = []string{"MarkDialing", "notify:dialing", "Dial", "RecordAnswered", "notify:answered"}

// lookups repeats FindAgent n times.
func lookups(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "FindAgent"
	}
	return out
}

// TestAttemptWaitsForTheAgent: a call whose assistant waits for its agent
// is dialed only once the agent is in the room, and that is recorded; an
// agent that never comes fails the call as agent_unavailable, for good and
// unrung; an assistant that dials without waiting never looks.
func TestAttemptWaitsForTheAgent(t *testing.T) {
	t.Parallel()
	t.Run("joined", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceTwilio)
		r.store.row.AgentJoinTimeout = 5 * time.Second
		r.dialer.AgentPoll = time.Millisecond
		r.rooms.agentAt = 3
		r.line.dialed = dialq.Dialed{Answered: &phone}

		c, err := r.attempt(context.Background(), true)
		requireOutcome(t, taskDone, err)
		want := steps(steps(afterDispatch, lookups(3)...), "RecordAgentJoined")
		require.Equal(t, steps(want, dialAndAnswer...), r.j.take(), "the agent joins before the phone is dialed")
		requireRow(t, r, c, dialq.StatusAnswered, "", 200)
		require.Equal(t, dialq.DispatchRunning, r.store.row.DispatchState)
		require.Equal(t, agentIdentity, r.store.agentJoined)
		require.Equal(t, 1, r.line.dials)
	})
	t.Run("never comes", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceTwilio)
		r.store.row.AgentJoinTimeout = 40 * time.Millisecond
		r.dialer.AgentPoll = 5 * time.Millisecond

		started := time.Now()
		c, err := r.attempt(context.Background(), true)
		requireOutcome(t, taskSkip, err)
		require.GreaterOrEqual(t, time.Since(started), 40*time.Millisecond, "waited the whole timeout")
		got := r.j.take()
		require.Equal(t, afterDispatch, got[:len(afterDispatch)])
		require.Equal(t, []string{"RecordFailed", "notify:failed"}, got[len(got)-2:])
		require.Greater(t, r.rooms.lookups, 2, "looked more than once")
		require.Equal(t, lookups(r.rooms.lookups), got[len(afterDispatch):len(got)-2], "only looked for the agent")
		requireRow(t, r, c, dialq.StatusFailed, dialq.ReasonAgentUnavailable, 0)
		require.Contains(t, r.store.row.LastError, `"dialq-agent"`, "names the agent")
		require.Contains(t, r.store.row.LastError, "40ms", "names the timeout")
		require.Zero(t, r.line.dials, "nobody was rung")
		require.Nil(t, r.store.row.DialedAt)
		require.Equal(t, dialq.DispatchJoining, r.store.row.DispatchState)
	})
	t.Run("LiveKit down while looking", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceTwilio)
		r.store.row.AgentJoinTimeout = 20 * time.Millisecond
		r.dialer.AgentPoll = 5 * time.Millisecond
		r.rooms.agentErr = livekitDown

		c, err := r.attempt(context.Background(), true)
		requireOutcome(t, taskRetry, err)
		require.Equal(t, dialq.StatusQueued, c.Status, "still queued: the retry waits again")
		require.Zero(t, r.line.dials)
	})
	t.Run("refused while looking", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceTwilio)
		r.store.row.AgentJoinTimeout = time.Second
		r.rooms.agentErr = &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonLiveKit, Message: "LiveKit refused the request"}}

		c, err := r.attempt(context.Background(), true)
		requireOutcome(t, taskSkip, err)
		require.Equal(t, steps(steps(afterDispatch, "FindAgent"), "RecordFailed", "notify:failed"), r.j.take())
		requireRow(t, r, c, dialq.StatusFailed, dialq.ReasonLiveKit, 0)
	})
	t.Run("dials without waiting", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceTwilio)
		r.store.row.AgentJoinTimeout = 0 // the assistant's DialWithoutAgent
		r.line.dialed = dialq.Dialed{Answered: &phone}

		_, err := r.attempt(context.Background(), true)
		requireOutcome(t, taskDone, err)
		require.Equal(t, steps(afterDispatch, dialAndAnswer...), r.j.take())
		require.Zero(t, r.rooms.lookups)
	})
	t.Run("exotel waits too", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceExotel)
		r.dialer.Lines[dialq.ServiceExotel] = r.line
		r.store.row.AgentJoinTimeout = 5 * time.Second
		r.rooms.agentAt = 1
		r.line.dialed = dialq.Dialed{}

		_, err := r.attempt(context.Background(), true)
		requireOutcome(t, taskDone, err)
		require.Equal(t, steps(afterDispatch, "FindAgent", "RecordAgentJoined", "MarkDialing", "notify:dialing", "Dial", "notify:dialing"), r.j.take())
	})
}

// TestAttemptDoesNotWaitAgainForAnAgentThatJoined: a retry of a call whose
// agent was seen in the room dials without looking again.
func TestAttemptDoesNotWaitAgainForAnAgentThatJoined(t *testing.T) {
	t.Parallel()
	r := newRig(t, dialq.ServiceTwilio)
	r.store.row.AgentJoinTimeout = 5 * time.Second
	r.rooms.agentAt = 1
	r.line.dialErr = notPlaced
	_, err := r.attempt(context.Background(), true)
	requireOutcome(t, taskRetry, err)
	require.True(t, slices.Contains(r.j.take(), "RecordAgentJoined"))
	require.Equal(t, dialq.StatusQueued, r.store.row.Status)

	r.line.dialed, r.line.dialErr = dialq.Dialed{Answered: &phone}, nil
	_, err = r.attempt(context.Background(), true)
	requireOutcome(t, taskDone, err)
	require.Equal(t, steps([]string{"StartAttempt"}, dialAndAnswer...), r.j.take())
	require.Equal(t, 1, r.rooms.lookups)
}

// TestAttemptJoinWaitCountsAgainstTheBudget: the wait for the agent comes
// out of the task's deadline, so a deadline that leaves the ring time but
// not the wait as well refuses the call before anything is made.
func TestAttemptJoinWaitCountsAgainstTheBudget(t *testing.T) {
	t.Parallel()
	r := newRig(t, dialq.ServiceTwilio)
	r.store.row.AgentJoinTimeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), ringTimeout+dialq.DialMargin+5*time.Second)
	defer cancel()

	c, err := r.attempt(ctx, true)
	requireOutcome(t, taskSkip, err)
	require.Equal(t, []string{"StartAttempt", "RecordFailed", "notify:failed"}, r.j.take())
	requireRow(t, r, c, dialq.StatusFailed, dialq.ReasonInternal, 0)
	require.Contains(t, r.store.row.LastError, "agent_join_timeout")
	require.Contains(t, r.store.row.LastError, "DIALQ_DIAL_TIMEOUT")
}
