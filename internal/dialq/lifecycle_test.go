package dialq_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

func TestTerminalStatusesNeverMove(t *testing.T) {
	t.Parallel()
	terminal := 0
	for _, s := range dialq.Statuses() {
		if !s.Terminal() {
			continue
		}
		terminal++
		for _, to := range dialq.Statuses() {
			require.False(t, s.CanMove(to), "%s → %s", s, to)
		}
		require.True(t, s.Final())
		require.False(t, s.Live())
	}
	require.Equal(t, 7, terminal, "completed, busy, no_answer, rejected, unreachable, failed, canceled")
}

func TestEveryStatusIsReachableFromQueued(t *testing.T) {
	t.Parallel()
	seen := map[dialq.CallStatus]bool{dialq.StatusQueued: true}
	next := []dialq.CallStatus{dialq.StatusQueued}
	for len(next) > 0 {
		s := next[0]
		next = next[1:]
		for _, to := range dialq.Statuses() {
			if s.CanMove(to) && !seen[to] {
				seen[to] = true
				next = append(next, to)
			}
		}
	}
	require.Len(t, seen, len(dialq.Statuses()))
}

func TestFromIsTheInverseOfCanMove(t *testing.T) {
	t.Parallel()
	require.Equal(t, []dialq.CallStatus{dialq.StatusAnswered}, dialq.From(dialq.StatusCompleted),
		"only an answered call completes")
	require.Equal(t, []dialq.CallStatus{dialq.StatusDialing, dialq.StatusRinging}, dialq.From(dialq.StatusBusy))
	require.Equal(t, []dialq.CallStatus{dialq.StatusDialing}, dialq.From(dialq.StatusQueued),
		"back to queued only from a dial that never left")
	require.Equal(t, []dialq.CallStatus{dialq.StatusQueued, dialq.StatusDialing, dialq.StatusRinging, dialq.StatusAnswered},
		dialq.From(dialq.StatusFailed))
	require.Equal(t, []dialq.CallStatus{dialq.StatusDialing, dialq.StatusRinging}, dialq.From(dialq.StatusAnswered))
}

func TestFailedEndsInTheCalleesStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   int
		status dialq.CallStatus
		by     dialq.EndedBy
	}{
		{486, dialq.StatusBusy, dialq.EndedByPhone},
		{480, dialq.StatusNoAnswer, dialq.EndedByPhone},
		{487, dialq.StatusNoAnswer, dialq.EndedByPhone},
		{603, dialq.StatusRejected, dialq.EndedByPhone},
		{404, dialq.StatusUnreachable, dialq.EndedByPhone},
		{503, dialq.StatusFailed, dialq.EndedByPhone},
		{403, dialq.StatusFailed, dialq.EndedByDialq},
	}
	for _, tt := range tests {
		e := dialq.Failed(dialq.SIPFailure(tt.code, "x", "the trunk"))
		require.Equal(t, tt.status, e.Status, "SIP %d", tt.code)
		require.Equal(t, tt.by, e.By, "SIP %d", tt.code)
		require.Equal(t, tt.code, e.Failure.SIPCode)
		require.NotEmpty(t, e.Reason)
	}
	e := dialq.Failed(dialq.Failure{Reason: dialq.ReasonWorkerShutdown, Message: "shut down"})
	require.Equal(t, dialq.End{Status: dialq.StatusFailed, By: dialq.EndedByDialq, Reason: "shut down", Failure: e.Failure}, e)
	c := dialq.Canceled("hung up by API before the answer")
	require.Equal(t, dialq.StatusCanceled, c.Status)
	require.Equal(t, dialq.EndedByAPI, c.By)
	require.Equal(t, dialq.ReasonCanceled, c.Failure.Reason)
}
