package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	lkp "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// TestTwilioCallAnsweredReturnsTheContractBody places a call through the
// whole path and checks the 200 body key by key against the seed contract.
func TestTwilioCallAnsweredReturnsTheContractBody(t *testing.T) {
	t.Parallel()
	// A registered agent proves the dispatch reaches a running job that
	// carries the rendered prompt, and the phone is dialed once it joined.
	s := newStack(t, stackOptions{agent: true, script: sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 300 * time.Millisecond})})
	ctx := context.Background()
	agent := s.agent

	r := s.do(http.MethodPost, "/call/outbound", s.body("+15550200000", "twilio", s.twilio))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)

	require.ElementsMatch(t, []string{"success", "message", "data"}, keys(r.Body))
	// Same keys in the same order as the contract's example.
	require.Regexp(t, `^\{"success":true,"message":"[^"]+","data":\{"room_name":"[^"]+","agent_dispatch":\{"id":"[^"]+","state":"[^"]+"\},"participant":\{"sid":"[^"]+","identity":"[^"]+"\},"call_id":"[^"]+","status":"answered"\}\}$`, r.Raw)
	require.Equal(t, true, r.Body["success"])
	require.Equal(t, "Outbound call triggered successfully", r.Body["message"])
	data := r.Body["data"].(map[string]any)
	require.ElementsMatch(t, []string{"room_name", "agent_dispatch", "participant", "call_id", "status"}, keys(data))
	callID := data["call_id"].(string)
	require.Equal(t, "answered", data["status"])
	room := data["room_name"].(string)
	require.Regexp(t, "^"+s.assistant.String()+"_[0-9a-f]{12}$", room)
	disp := data["agent_dispatch"].(map[string]any)
	require.ElementsMatch(t, []string{"id", "state"}, keys(disp))
	require.Regexp(t, "^AD_", disp["id"])
	require.Equal(t, "RUNNING", disp["state"], "the agent joined before the dial")
	part := data["participant"].(map[string]any)
	require.ElementsMatch(t, []string{"sid", "identity"}, keys(part))
	require.Regexp(t, "^PA_", part["sid"])
	require.Equal(t, "phone-+15550200000", part["identity"])

	// The phone is in the real room, with the sid the API returned.
	ps, err := s.rooms.ListParticipants(ctx, &lkp.ListParticipantsRequest{Room: room})
	require.NoError(t, err)
	var phone *lkp.ParticipantInfo
	for _, p := range ps.Participants {
		if p.Identity == "phone-+15550200000" {
			phone = p
		}
	}
	require.NotNil(t, phone, "phone participant in room %s", room)
	require.Equal(t, part["sid"], phone.Sid)
	require.Equal(t, callID, phone.Attributes["dialq.callID"])

	// The agent got the job with the rendered prompt and reported it running.
	jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	job, err := agent.WaitJob(jctx, room)
	require.NoError(t, err)
	require.NoError(t, job.JoinErr)
	require.Equal(t, disp["id"], job.DispatchID)
	var md dialq.DispatchMetadata
	require.NoError(t, json.Unmarshal([]byte(job.Metadata), &md))
	require.Equal(t, callID, md.CallID)
	require.Equal(t, "Hello John Doe, you're calling from Acme Corp.", md.Prompt)
	require.Equal(t, "Hi John Doe, this is Sarah speaking.", md.StartInstruction)
	require.Equal(t, "+15550200000", md.ToNumber)
	waitFor(t, 15*time.Second, "dispatch job running", func() bool {
		d, err := s.dispatchAPI.GetDispatch(ctx, job.DispatchID, room)
		if err != nil || d.State == nil {
			return false
		}
		for _, j := range d.State.Jobs {
			if j.State != nil && j.State.Status == lkp.JobStatus_JS_RUNNING {
				return true
			}
		}
		return false
	})

	// The row and GET /call/{id} tell the same story, with the timeline.
	c := s.call(callID)
	require.Equal(t, dialq.StatusAnswered, c.Status)
	require.Equal(t, 1, c.Attempts)
	require.Equal(t, 200, c.SIPStatusCode)
	require.NotNil(t, c.AnsweredAt)
	g := s.do(http.MethodGet, "/call/"+callID, nil)
	require.Equal(t, http.StatusOK, g.Status, g.Raw)
	gd := g.Body["data"].(map[string]any)
	require.Equal(t, "answered", gd["status"])
	require.Equal(t, room, gd["room_name"])
	var kinds []string
	for _, e := range gd["events"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	require.Equal(t, []string{"queued", "attempt", "room_created", "agent_dispatched", "agent_joined", "dialing", "answered"}, kinds)
	joined := gd["events"].([]any)[4].(map[string]any)
	require.Regexp(t, `^agent-AJ_\S+ joined after \d`, joined["detail"])
	t.Logf("agent join: %s", joined["detail"])
	require.Equal(t, 1, s.dialsTo("+15550200000"))
}

// TestSIPAnswers: one call per answer of DESIGN.md's table, through the
// double, each with its status code, error body and call row; none retried.
func TestSIPAnswers(t *testing.T) {
	t.Parallel()
	outcomes := map[string]sipdouble.Outcome{
		"+15550200486": {Code: 486},
		"+15550200480": {Code: 480},
		"+15550200603": {Code: 603},
		"+15550200404": {Code: 404},
		"+15550200503": {Code: 503},
		"+15550200408": {Code: 408},
		"+15550200999": {Code: 200, RingFor: time.Minute}, // rings past the ring time
	}
	s := newStack(t, stackOptions{script: sipdouble.ByNumber(outcomes, nil), ringTimeout: 5 * time.Second})
	tests := []struct {
		name, number, trunk string
		status              int
		code                string
		reason              dialq.FailureReason
		sipCode             int
	}{
		{"486 busy", "+15550200486", "", http.StatusUnprocessableEntity, dialq.ECALLFAILED, dialq.ReasonBusy, 486},
		{"480 unavailable", "+15550200480", "", http.StatusUnprocessableEntity, dialq.ECALLFAILED, dialq.ReasonNoAnswer, 480},
		{"603 decline", "+15550200603", "", http.StatusUnprocessableEntity, dialq.ECALLFAILED, dialq.ReasonRejected, 603},
		{"404 not found", "+15550200404", "", http.StatusUnprocessableEntity, dialq.ECALLFAILED, dialq.ReasonUnreachable, 404},
		{"503 unavailable", "+15550200503", "", http.StatusBadGateway, dialq.EUPSTREAM, dialq.ReasonCarrier, 503},
		{"408 timeout", "+15550200408", "", http.StatusUnprocessableEntity, dialq.ECALLFAILED, dialq.ReasonNoAnswer, 408},
		{"ring timeout", "+15550200999", "", http.StatusUnprocessableEntity, dialq.ECALLFAILED, dialq.ReasonNoAnswer, 487},
		{"bad trunk", "+15550200000", "bad", http.StatusBadGateway, dialq.EUPSTREAM, dialq.ReasonTrunk, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			trunk := s.twilio
			if tt.trunk == "bad" {
				trunk = s.badTwilio
			}
			r := s.do(http.MethodPost, "/call/outbound", s.body(tt.number, "twilio", trunk))
			require.Equal(t, tt.status, r.Status, r.Raw)
			require.Equal(t, false, r.Body["success"])
			e := r.Body["error"].(map[string]any)
			require.Equal(t, tt.code, e["code"])
			require.Equal(t, string(tt.reason), e["reason"])
			if tt.sipCode != 0 {
				require.EqualValues(t, tt.sipCode, e["sip_status_code"])
			} else {
				require.NotContains(t, e, "sip_status_code")
			}
			require.NotEmpty(t, r.Body["message"])
			data := r.Body["data"].(map[string]any)
			status := dialq.Failed(dialq.Failure{Reason: tt.reason}).Status
			require.Equal(t, string(status), data["status"], "the callee's answer is the call's status")
			require.NotEmpty(t, data["room_name"])
			require.NotEmpty(t, data["agent_dispatch"])

			c := s.call(data["call_id"].(string))
			require.Equal(t, status, c.Status)
			require.Equal(t, tt.reason, c.FailureReason)
			require.NotEmpty(t, c.EndReason)
			require.NotEmpty(t, c.EndedBy)
			require.Equal(t, tt.sipCode, c.SIPStatusCode)
			require.Equal(t, 1, c.Attempts, "a call the phone side refused is never retried")
			require.NotNil(t, c.EndedAt)
		})
	}
	t.Cleanup(func() {
		for n := range outcomes {
			require.LessOrEqual(t, s.dialsTo(n), 1, "number %s dialed more than once", n)
		}
	})
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestIdempotentRetryDoesNotDialAgain: a client that lost the first answer
// and retries with the same Idempotency-Key gets the same answered call.
func TestIdempotentRetryDoesNotDialAgain(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{script: sipdouble.Always(sipdouble.Outcome{Code: 200})})
	post := func() reply {
		return s.doHeaders(http.MethodPost, "/call/outbound", s.body("+15550200077", "twilio", s.twilio),
			map[string]string{"Idempotency-Key": "retry-1"})
	}
	first := post()
	require.Equal(t, http.StatusOK, first.Status, first.Raw)
	second := post()
	require.Equal(t, http.StatusOK, second.Status, second.Raw)
	require.Equal(t, "true", second.Header.Get("Idempotent-Replayed"))
	require.Equal(t, first.Body["data"], second.Body["data"])
	require.Equal(t, 1, s.dialsTo("+15550200077"))
}
