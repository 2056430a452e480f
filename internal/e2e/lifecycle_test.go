package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	lkp "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
	"github.com/dialq/dialq/internal/testkit/testagent"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// talkScript answers every call; numbers ending in 1 hang up after a
// second, the others stay until removed or alone.
func talkScript(req *lkp.CreateSIPParticipantRequest) sipdouble.Outcome {
	o := sipdouble.Outcome{Code: 200, RingFor: 200 * time.Millisecond}
	if req.SipCallTo[len(req.SipCallTo)-1] == '1' {
		o.HangUpAfter = time.Second
	}
	return o
}

// TestLiveKitSIPCallsEndByWebhook: the stack's livekit-server posts its
// webhooks to this test's API (DIALQ_TEST_WEBHOOK_ADDR); with the
// reconciler off, each end below can only come from them. One stack, its
// cases one after the other: only one API can listen on that address.
func TestLiveKitSIPCallsEndByWebhook(t *testing.T) {
	s := newStack(t, stackOptions{script: talkScript, apiAddr: testenv.Env(t, "DIALQ_TEST_WEBHOOK_ADDR")})
	ctx := context.Background()
	agent, err := testagent.Start(ctx, testagent.Config{URL: s.lk.URL, APIKey: s.lk.APIKey, APISecret: s.lk.APISecret, AgentName: s.agentName})
	require.NoError(t, err)
	t.Cleanup(func() { agent.Close() })

	place := func(number string) (*dialq.Call, string) {
		t.Helper()
		r := s.do(http.MethodPost, "/call/outbound", s.body(number, "twilio", s.twilio))
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		data := r.Body["data"].(map[string]any)
		id := data["call_id"].(string)
		return s.call(id), id
	}
	awaitEnd := func(id string) *dialq.Call {
		t.Helper()
		var c *dialq.Call
		waitFor(t, 15*time.Second, "the call's end", func() bool {
			c = s.call(id)
			return c.Status.Terminal()
		})
		return c
	}

	t.Run("the phone hangs up", func(t *testing.T) {
		_, id := place("+15550300001")
		c := awaitEnd(id)
		require.Equal(t, dialq.StatusCompleted, c.Status)
		require.Equal(t, dialq.EndedByPhone, c.EndedBy)
		require.Equal(t, "phone hung up", c.EndReason)
		require.InDelta(t, 1.0, c.Duration().Seconds(), 0.8, "the double talked for a second")
		g := s.do(http.MethodGet, "/call/"+id, nil)
		require.Equal(t, "phone", g.Body["data"].(map[string]any)["ended_by"])
		require.Greater(t, g.Body["data"].(map[string]any)["duration_seconds"], 0.0)
		requireLastEvent(t, s, c, "completed", dialq.StatusCompleted)
	})

	t.Run("hung up through the API", func(t *testing.T) {
		c, id := place("+15550300002")
		r := s.do(http.MethodPost, "/call/"+id+"/hangup", nil)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		data := r.Body["data"].(map[string]any)
		require.Equal(t, "completed", data["status"])
		require.Equal(t, "api", data["ended_by"])
		require.Equal(t, "hung up by API", data["end_reason"])
		waitFor(t, 10*time.Second, "the phone out of the room", func() bool { return !s.inRoom(c.RoomName, c.ParticipantIdentity) })
		// The phone's participant_left that followed is recorded as ignored.
		waitFor(t, 10*time.Second, "the late participant_left", func() bool {
			ev, err := s.db.Events(ctx, c.ID)
			require.NoError(t, err)
			return ev[len(ev)-1].Ignored
		})
		again := s.do(http.MethodPost, "/call/"+id+"/hangup", nil)
		require.Equal(t, http.StatusConflict, again.Status, again.Raw)
	})

	t.Run("the agent leaves", func(t *testing.T) {
		c, id := place("+15550300003")
		_, err := agent.WaitJob(ctx, c.RoomName)
		require.NoError(t, err)
		require.NoError(t, agent.Leave(c.RoomName))
		c = awaitEnd(id)
		require.Equal(t, dialq.StatusCompleted, c.Status)
		require.Equal(t, dialq.EndedByAgent, c.EndedBy)
		require.Equal(t, "agent left", c.EndReason)
		waitFor(t, 10*time.Second, "the phone out of the room", func() bool { return !s.inRoom(c.RoomName, c.ParticipantIdentity) })
	})

	t.Run("a forged webhook changes nothing", func(t *testing.T) {
		c, id := place("+15550300004")
		body := []byte(`{"event":"participant_left","id":"EV_forged","room":{"name":"` + c.RoomName +
			`","metadata":"{\"call_id\":\"` + id + `\"}"},"participant":{"identity":"` + c.ParticipantIdentity + `"}}`)
		for name, secret := range map[string]string{"wrong secret": "not-the-secret", "no token": ""} {
			req, err := http.NewRequest(http.MethodPost, s.apiURL+"/livekit/webhook", bytes.NewReader(body))
			require.NoError(t, err)
			if secret != "" {
				req.Header.Set("Authorization", signWebhook(t, s.lk.APIKey, secret, body))
			}
			resp, err := s.client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
		}
		// Signed right, the same body would end it: the check is the signature.
		req, err := http.NewRequest(http.MethodPost, s.apiURL+"/livekit/webhook", bytes.NewReader(body))
		require.NoError(t, err)
		require.Equal(t, dialq.StatusAnswered, s.call(id).Status)
		req.Header.Set("Authorization", signWebhook(t, s.lk.APIKey, s.lk.APISecret, body))
		resp, err := s.client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, dialq.StatusCompleted, s.call(id).Status)
	})
}

// TestReconcilerClosesCallsNoWebhookEnded: the API does not listen where
// livekit-server posts, as when it was down; the worker's reconciler finds
// the phone gone and closes the call within a few of its intervals.
func TestReconcilerClosesCallsNoWebhookEnded(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{script: talkScript, reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond}})
	r := s.do(http.MethodPost, "/call/outbound", s.body("+15550300011", "twilio", s.twilio))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	var c *dialq.Call
	waitFor(t, 10*time.Second, "the reconciler to close the call", func() bool {
		c = s.call(id)
		return c.Status.Terminal()
	})
	require.Equal(t, dialq.StatusCompleted, c.Status)
	require.Equal(t, dialq.EndedByPhone, c.EndedBy)
	require.Contains(t, c.EndReason, "reconciler")
	require.Less(t, c.EndedAt.Sub(*c.AnsweredAt), 3*time.Second, "closed within a few intervals of the hang-up (1 s of talk)")
}

// TestWatchdogsHangUpLiveKitSIPCalls: an answered call with no agent in its
// room is hung up as agent_never_joined; one past its max duration is hung
// up as completed by dialq.
func TestWatchdogsHangUpLiveKitSIPCalls(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{script: talkScript,
		reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond, AgentGrace: time.Second}})
	r := s.do(http.MethodPost, "/call/outbound", s.body("+15550300022", "twilio", s.twilio))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	var c *dialq.Call
	waitFor(t, 10*time.Second, "the agent watchdog", func() bool {
		c = s.call(id)
		return c.Status.Terminal()
	})
	require.Equal(t, dialq.StatusFailed, c.Status)
	require.Equal(t, dialq.ReasonAgentNeverJoined, c.FailureReason)
	require.Equal(t, dialq.EndedByDialq, c.EndedBy)
	waitFor(t, 10*time.Second, "the phone out of the room", func() bool { return !s.inRoom(c.RoomName, c.ParticipantIdentity) })

	m := newStack(t, stackOptions{script: talkScript,
		reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond, MaxDuration: 1500 * time.Millisecond}})
	r = m.do(http.MethodPost, "/call/outbound", m.body("+15550300032", "twilio", m.twilio))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	id = r.Body["data"].(map[string]any)["call_id"].(string)
	waitFor(t, 10*time.Second, "the max duration watchdog", func() bool {
		c = m.call(id)
		return c.Status.Terminal()
	})
	require.Equal(t, dialq.StatusCompleted, c.Status)
	require.Equal(t, dialq.EndedByDialq, c.EndedBy)
	require.Equal(t, "max duration", c.EndReason)
	require.GreaterOrEqual(t, c.Duration(), 1500*time.Millisecond)
}

// TestHangupOfAQueuedCallCancelsIt: a call the worker has not taken yet is
// canceled and never dialed.
func TestHangupOfAQueuedCallCancelsIt(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{script: talkScript, noWorker: true})
	r := s.do(http.MethodPost, "/call/outbound?wait=0", s.body("+15550300042", "twilio", s.twilio))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	h := s.do(http.MethodPost, "/call/"+id+"/hangup", nil)
	require.Equal(t, http.StatusOK, h.Status, h.Raw)
	require.Equal(t, "canceled", h.Body["data"].(map[string]any)["status"])
	require.Equal(t, "api", h.Body["data"].(map[string]any)["ended_by"])

	s.startWorker(stackOptions{})
	// The worker takes the task (its attempt is counted) and finds the call over.
	waitFor(t, 10*time.Second, "the dial task's attempt", func() bool { return s.call(id).Attempts == 1 })
	require.Zero(t, s.dialsTo("+15550300042"), "a canceled call is never dialed")
	require.Equal(t, dialq.StatusCanceled, s.call(id).Status)
}

// inRoom reports whether identity is in room.
func (s *stack) inRoom(room, identity string) bool {
	ps, err := s.rooms.ListParticipants(context.Background(), &lkp.ListParticipantsRequest{Room: room})
	if err != nil {
		return false
	}
	for _, p := range ps.Participants {
		if p.Identity == identity {
			return true
		}
	}
	return false
}

func requireLastEvent(t *testing.T, s *stack, c *dialq.Call, kind string, status dialq.CallStatus) {
	t.Helper()
	ev, err := s.db.Events(context.Background(), c.ID)
	require.NoError(t, err)
	last := ev[len(ev)-1]
	require.Equal(t, kind, last.Kind)
	require.Equal(t, status, last.Status)
}

// signWebhook signs body as livekit-server does: a token of key, signed
// with secret, whose sha256 claim is the body's.
func signWebhook(t *testing.T, key, secret string, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	tok, err := auth.NewAccessToken(key, secret).SetValidFor(time.Minute).SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	require.NoError(t, err)
	return tok
}
