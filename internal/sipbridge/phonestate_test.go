package sipbridge_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// TestAgentJoinsAfterTheAnswer: an agent that joins an answered call reads
// the phone's state from its attributes, those livekit-sip sets on an
// outbound call, and is told call_answered when it joins. The agent that
// was there all along is told it once.
func TestAgentJoinsAfterTheAnswer(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
	h := newHarness(t, nil)
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusAnswered)
	ag.AwaitEvents("call_answered")

	late := h.joinAgent(c)
	p := late.AwaitStatus("active")
	late.AwaitEvents("call_answered")
	row := h.row(c)
	attrs := p.Attributes()
	require.NotEmpty(t, attrs["lk.sip.answerTime"])
	require.NotEmpty(t, attrs["sip.callTag"])
	delete(attrs, "lk.sip.answerTime")
	callTag := attrs["sip.callTag"]
	require.Equal(t, map[string]string{
		"sip.callStatus":       "active",
		"sip.callID":           row.SIPCallID,
		"sip.callIDFull":       row.SIPCallID,
		"sip.callTag":          callTag,
		"sip.trunkID":          c.TrunkID,
		"sip.phoneNumber":      callee,
		"sip.trunkPhoneNumber": callerID,
		"sip.hostname":         s.Host,
		"dialq.callID":         c.ID.String(),
		"dialq.hold":           "false",
	}, attrs)

	require.True(t, h.m.Hangup(c.ID, dialq.APIHangupReason))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)
	for _, a := range []*testroom.Agent{ag, late} {
		a.AwaitPhoneGone()
		require.Equal(t, []string{"call_answered"}, a.Events(), "told once")
	}

	// The Call-ID is the INVITE's, the tag the one Exotel put in the To
	// header of its answer.
	inv := s.Received()[0]
	require.Equal(t, header(inv, "Call-ID"), row.SIPCallID)
	answer := slices.IndexFunc(s.Sent(), func(m string) bool { return strings.HasPrefix(m, "SIP/2.0 200 OK") })
	require.GreaterOrEqual(t, answer, 0)
	_, tag, ok := strings.Cut(header(s.Sent()[answer], "To"), ";tag=")
	require.True(t, ok, "sipp's answer has a To tag")
	require.Equal(t, tag, callTag)
	h.settle()
}

// TestAgentJoinsOnHold: an agent that joins a call on hold is told
// call_answered, then call_hold, and reads dialq.hold "true"; the agent that
// was there all along is told each once.
func TestAgentJoinsOnHold(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "hold_await_bye.xml", "tcp", nil)
	h := newHarness(t, nil)
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	ag.AwaitEvents("call_answered", "call_hold")
	ag.AwaitAttributes(map[string]string{"sip.callStatus": "active", "dialq.hold": "true"})

	late := h.joinAgent(c)
	late.AwaitAttributes(map[string]string{"sip.callStatus": "active", "dialq.hold": "true"})
	late.AwaitEvents("call_answered", "call_hold")

	require.True(t, h.m.Hangup(c.ID, dialq.APIHangupReason))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t) // sipp got dialq's recvonly answer to the hold, then the BYE
	for _, a := range []*testroom.Agent{ag, late} {
		a.AwaitPhoneGone()
		require.Equal(t, []string{"call_answered", "call_hold"}, a.Events(), "each event once")
	}
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "answered", "call_hold", "completed"), kinds)
	h.settle()
}
