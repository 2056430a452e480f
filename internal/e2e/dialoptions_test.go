package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	lkp "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestDialOptionsThroughALiveKitTrunk: a call's own dial options reach
// LiveKit's SIP service as its CreateSIPParticipant fields, a call's own
// ring_timeout is the ring time, and its own max_duration ends it
// `completed` by dialq.
func TestDialOptionsThroughALiveKitTrunk(t *testing.T) {
	t.Parallel()
	script := sipdouble.ByNumber(map[string]sipdouble.Outcome{
		"+15550400002": {Code: 200, RingFor: time.Minute}, // never answers
	}, sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 100 * time.Millisecond}))
	s := newStack(t, stackOptions{script: script, agent: true,
		reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond, MaxDuration: time.Hour}})
	ctx := context.Background()
	require.NoError(t, s.db.SaveTrunk(ctx, &dialq.Trunk{ID: s.twilio, TenantID: s.tenant, Provider: dialq.ServiceTwilio,
		LiveKitTrunkID: s.twilio, Numbers: []string{"+15550100000", "+15550100001"}}))

	body := s.body("+15550400001", "twilio", s.twilio)
	body["ring_timeout"] = 7
	body["max_duration"] = 10
	body["caller_id"] = "+15550100001"
	body["display_name"] = "Acme Clinic"
	body["sip_headers"] = map[string]string{"X-Lead-Id": "42"}
	body["dtmf"] = "ww12#"
	body["play_ringtone"] = true
	body["krisp"] = true
	body["wait_until"] = "answered"
	r := s.do(http.MethodPost, "/call/outbound", body)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "answered", r.Body["data"].(map[string]any)["status"])
	id := r.Body["data"].(map[string]any)["call_id"].(string)

	var req *lkp.CreateSIPParticipantRequest
	for _, q := range s.sip.Requests() {
		if q.SipCallTo == "+15550400001" {
			req = q
		}
	}
	require.NotNil(t, req)
	require.Equal(t, "+15550100001", req.SipNumber)
	require.Equal(t, "Acme Clinic", req.GetDisplayName())
	require.Equal(t, map[string]string{"X-Lead-Id": "42"}, req.Headers)
	require.Equal(t, "ww12#", req.Dtmf)
	//lint:ignore SA1019 what internal/livekit sends (client.go says why)
	require.True(t, req.PlayDialtone)
	require.True(t, req.KrispEnabled)
	require.Equal(t, 7*time.Second, req.RingingTimeout.AsDuration())
	require.Equal(t, 10*time.Second, req.MaxCallDuration.AsDuration())

	// max_duration: hung up ten seconds after the answer, by dialq.
	var c *dialq.Call
	waitFor(t, 20*time.Second, "the end at max_duration", func() bool {
		c = s.call(id)
		return c.Status.Terminal()
	})
	require.Equal(t, dialq.StatusCompleted, c.Status)
	require.Equal(t, dialq.EndedByDialq, c.EndedBy)
	require.Equal(t, "max duration", c.EndReason)
	require.InDelta(t, 10, c.Duration().Seconds(), 1.5)
	g := s.do(http.MethodGet, "/call/"+id, nil)
	require.Equal(t, "+15550100001", g.Body["data"].(map[string]any)["dial_options"].(map[string]any)["caller_id"])

	// ring_timeout: a phone that never answers is no_answer after the
	// call's own ring time, not the worker's 30 s.
	body = s.body("+15550400002", "twilio", s.twilio)
	body["ring_timeout"] = 5
	start := time.Now()
	r = s.do(http.MethodPost, "/call/outbound?wait=30", body)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, r.Raw)
	require.Equal(t, "no_answer", r.Body["error"].(map[string]any)["reason"])
	require.Less(t, time.Since(start), 15*time.Second, "rang about 5 s")
	for _, q := range s.sip.Requests() {
		if q.SipCallTo == "+15550400002" {
			require.Equal(t, 5*time.Second, q.RingingTimeout.AsDuration())
			require.Nil(t, q.MaxCallDuration, "no max_duration of its own: the reconciler keeps DIALQ_MAX_CALL_DURATION")
		}
	}
}

// TestExotelWaitUntilAnswered: through the Exotel bridge the request answers
// once the INVITE is out, unless it asks to wait until the answer: then its
// 200 comes after the phone picked up (make run's sipp phone rings a
// second first), with the phone participant.
func TestExotelWaitUntilAnswered(t *testing.T) {
	t.Parallel()
	phone := testenv.Sipp(t, testenv.SippOptions{Scenario: "../../deploy/sipp/exotel-phone.xml", Args: []string{"-rtp_echo"}})
	s := newStack(t, stackOptions{exotelPhone: phone, agent: true})

	body := s.body("+918044319240", "exotel", s.exotel)
	body["wait_until"] = "answered"
	r := s.do(http.MethodPost, "/call/outbound", body)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	require.Equal(t, "answered", data["status"])
	require.Equal(t, "phone-+918044319240", data["participant"].(map[string]any)["identity"])
	c := s.call(data["call_id"].(string))
	require.NotNil(t, c.AnsweredAt)
	h := s.do(http.MethodPost, "/call/"+c.ID.String()+"/hangup", nil)
	require.Equal(t, http.StatusOK, h.Status, h.Raw)
}
