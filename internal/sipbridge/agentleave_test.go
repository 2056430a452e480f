package sipbridge_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// agentGrace is the tests' DIALQ_AGENT_GRACE.
const agentGrace = 1500 * time.Millisecond

// keptCall is a call of an assistant that keeps calls when the agent
// leaves, as the dialer hands it to the bridge: the setting fixed on it.
func (h *harness) keptCall(s *testenv.SippRun) *dialq.Call {
	h.t.Helper()
	c := h.newCall(s, "tcp")
	c.KeepCallOnAgentLeave = true
	return c
}

// awaitEvent waits until c's timeline has an event of kind and returns it.
func (h *harness) awaitEvent(c *dialq.Call, kind string) dialq.CallEvent {
	h.t.Helper()
	var found dialq.CallEvent
	require.Eventually(h.t, func() bool {
		_, ev := h.timeline(c)
		for _, e := range ev {
			if e.Kind == kind {
				found = e
				return true
			}
		}
		return false
	}, waitFor, 20*time.Millisecond, "no %s on the timeline", kind)
	return found
}

// TestKeptCallOutlivesItsAgent: the call's assistant keeps calls when the
// agent leaves. The agent leaving is an agent_left event and the phone
// stays on the line; an agent that comes back within the agent grace keeps
// it going, and one that does not leaves dialq to hang up (BYE) as failed,
// agent_left, ended by dialq, the grace after the leaving. (By default an
// agent hangs up by leaving: TestRoomClosedEndsCall.)
func TestKeptCallOutlivesItsAgent(t *testing.T) {
	t.Parallel()
	t.Run("an agent comes back", func(t *testing.T) {
		t.Parallel()
		s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
		h := newHarness(t, func(cfg *sipbridge.Config) { cfg.AgentGrace = agentGrace })
		c := h.keptCall(s)
		ag := h.joinAgent(c)
		require.NoError(t, h.place(c))
		h.notes.await(t, c.ID, dialq.StatusAnswered)
		ag.AwaitStatus("active")

		ag.Leave()
		h.awaitEvent(c, "agent_left")
		back := h.joinAgent(c)
		back.AwaitStatus("active") // the phone is still on the line
		require.Eventually(t, func() bool { return len(h.logs.attrs("an agent is back in the room; the call goes on")) > 0 },
			waitFor, 20*time.Millisecond, "the grace ran out and found the agent")
		require.Equal(t, dialq.StatusAnswered, h.row(c).Status)

		require.True(t, h.m.Hangup(c.ID, dialq.APIHangupReason))
		h.notes.await(t, c.ID, dialq.StatusCompleted)
		s.RequirePassed(t)
		row := h.row(c)
		require.Equal(t, dialq.EndedByAPI, row.EndedBy)
		require.NotNil(t, row.AgentLeftAt)
		kinds, _ := h.timeline(c)
		require.Equal(t, steps("invite_sent", "ringing", "answered", "agent_left", "completed"), kinds)
		h.settle()
	})
	t.Run("no agent comes back", func(t *testing.T) {
		t.Parallel()
		s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
		h := newHarness(t, func(cfg *sipbridge.Config) { cfg.AgentGrace = agentGrace })
		c := h.keptCall(s)
		ag := h.joinAgent(c)
		require.NoError(t, h.place(c))
		h.notes.await(t, c.ID, dialq.StatusAnswered)
		ag.AwaitStatus("active")

		ag.Leave()
		left := h.awaitEvent(c, "agent_left")
		require.Equal(t, dialq.StatusAnswered, h.row(c).Status, "the leaving ended nothing")
		h.notes.await(t, c.ID, dialq.StatusFailed)
		s.RequirePassed(t) // sipp got the BYE
		require.Contains(t, testenv.FirstLines(s.Received()), "BYE sip:"+s.Host+":"+strconv.Itoa(s.Port)+";transport=TCP SIP/2.0")
		h.awaitPhoneLeft(c)

		row := h.row(c)
		require.Equal(t, dialq.StatusFailed, row.Status)
		require.Equal(t, dialq.ReasonAgentLeft, row.FailureReason)
		require.Equal(t, dialq.EndedByDialq, row.EndedBy)
		require.Contains(t, row.EndReason, "no agent came back within 1.5s")
		require.GreaterOrEqual(t, row.EndedAt.Sub(left.At), agentGrace, "hung up the grace after the leaving")
		require.Less(t, row.EndedAt.Sub(left.At), agentGrace+5*time.Second)
		kinds, _ := h.timeline(c)
		require.Equal(t, steps("invite_sent", "ringing", "answered", "agent_left", "failed"), kinds)
		h.settle()
	})
	t.Run("the agent leaves while the phone rings", func(t *testing.T) {
		t.Parallel()
		s := startSipp(t, "ring_no_answer.xml", "tcp", nil)
		h := newHarness(t, func(cfg *sipbridge.Config) {
			cfg.AgentGrace = agentGrace
			cfg.RingTimeout = 3 * time.Second
		})
		c := h.keptCall(s)
		ag := h.joinAgent(c)
		require.NoError(t, h.place(c))
		ag.AwaitStatus("ringing")
		ag.Leave()
		h.awaitEvent(c, "agent_left")
		// It rings on to its end, instead of failing as agent_unavailable
		// (TestRoomClosedWhileRinging).
		h.notes.await(t, c.ID, dialq.StatusNoAnswer)
		s.RequirePassed(t)
		kinds, _ := h.timeline(c)
		require.Equal(t, steps("invite_sent", "ringing", "agent_left", "no_answer"), kinds)
		h.settle()
	})
}
