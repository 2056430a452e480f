package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// TestExotelCallThroughTheBridge is the README's Exotel curl against make
// run's own sipp phone (deploy/sipp/exotel-phone.xml, echoing the audio it
// gets): the API answers with the contract's Exotel body once the INVITE is
// out, the INVITE carries the trunk's identity and digest, a tone an agent
// speaks in the room comes back from the phone participant (room → RTP →
// phone → RTP → room: audio both ways through the bridge), and the API's
// hang-up ends the call with a BYE.
func TestExotelCallThroughTheBridge(t *testing.T) {
	t.Parallel()
	phone := testenv.Sipp(t, testenv.SippOptions{Scenario: "../../deploy/sipp/exotel-phone.xml", Args: []string{"-rtp_echo"}})
	// The registered agent joins before the bridge dials, as on the Twilio path.
	s := newStack(t, stackOptions{exotelPhone: phone, agent: true})

	r := s.do(http.MethodPost, "/call/outbound", s.body("+918044319240", "exotel", s.exotel))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, true, r.Body["success"])
	require.Equal(t, "Outbound call triggered successfully via Exotel bridge", r.Body["message"])
	data := r.Body["data"].(map[string]any)
	room := data["room_name"].(string)
	require.Regexp(t, `^exotel-\+918044319240-[0-9a-f]{12}$`, room)
	require.Regexp(t, "^AD_", data["agent_dispatch"].(map[string]any)["id"])
	require.NotContains(t, data, "participant", "the seed's Exotel body has no participant: the phone has not answered yet")
	callID := data["call_id"].(string)

	// An agent in the room speaks a tone; the phone echoes it back.
	a := testroom.Join(t, s.lk, room, "phone-+918044319240")
	a.Speak(440)
	echo := a.AwaitFrames("loud audio from the phone", 0, 25, testroom.Loud) // half a second of the tone
	require.InDelta(t, 440, testroom.FrameFrequency(echo), 40, "the echoed audio is the agent's tone")
	waitFor(t, 10*time.Second, "call answered", func() bool { return s.call(callID).Status == dialq.StatusAnswered })

	invite := phone.Received()
	require.NotEmpty(t, invite)
	require.Contains(t, invite[0], "INVITE sip:08044319240@", "Exotel is dialled the number in national form")
	authed := ""
	for _, m := range invite {
		if strings.HasPrefix(m, "INVITE ") && strings.Contains(m, "Authorization: Digest") {
			authed = m
		}
	}
	require.NotEmpty(t, authed, "the challenged INVITE was answered with digest auth")
	require.Contains(t, authed, `username="exotel-demo"`)
	require.Contains(t, authed, `From: "08044319240" <sip:08044319240@exotel.local>`)
	require.Contains(t, authed, "m=audio ")
	require.Contains(t, authed, "a=rtpmap:8 PCMA/8000")
	require.NotContains(t, authed, "dialq-demo-sip", "the password never travels")

	h := s.do(http.MethodPost, "/call/"+callID+"/hangup", nil)
	require.Equal(t, http.StatusOK, h.Status, h.Raw)
	hd := h.Body["data"].(map[string]any)
	require.Equal(t, "completed", hd["status"])
	require.Equal(t, "hung up by API", hd["end_reason"])
	require.Equal(t, "api", hd["ended_by"])
	require.Greater(t, hd["duration_seconds"], 0.0, "an answered call that ended has its duration")
	require.NotEmpty(t, hd["answered_at"])
	require.NotEmpty(t, hd["ended_at"])
	var kinds []string
	for _, e := range hd["events"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	require.Equal(t, []string{"queued", "attempt", "room_created", "agent_dispatched", "agent_joined", "dialing", "invite_sent", "ringing", "answered", "hangup_requested", "completed"}, kinds)
	waitFor(t, 5*time.Second, "BYE at the phone", func() bool {
		for _, line := range testenv.FirstLines(phone.Received()) {
			if strings.HasPrefix(line, "BYE ") {
				return true
			}
		}
		return false
	})
}
