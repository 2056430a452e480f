package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestLiveKitUnreachableRetriesThenAnswers503: infrastructure failures are
// retried fast; once retries run out the call fails for good and the
// synchronous caller gets a 503 naming LiveKit, never a bare 500.
func TestLiveKitUnreachableRetriesThenAnswers503(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{maxRetry: 2, liveKitURL: "http://127.0.0.1:1"})
	r := s.do(http.MethodPost, "/call/outbound", s.body("+15550200000", "twilio", s.twilio))
	require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	require.Equal(t, false, r.Body["success"])
	e := r.Body["error"].(map[string]any)
	require.Equal(t, dialq.EUNAVAILABLE, e["code"])
	require.Equal(t, string(dialq.ReasonLiveKit), e["reason"])
	require.Contains(t, r.Body["message"], "LiveKit is unreachable")

	c := s.call(r.Body["data"].(map[string]any)["call_id"].(string))
	require.Equal(t, dialq.StatusFailed, c.Status)
	require.Equal(t, 3, c.Attempts, "first try plus MaxRetry retries")
	require.Empty(t, c.RoomName)
	require.Zero(t, s.dialsTo("+15550200000"))
}

// TestExotelWithoutBridgeFailsClearly: on a worker running without the
// Exotel bridge (DIALQ_BRIDGE=false), exotel calls get their room and
// dispatch, then fail with a reason that says the bridge is missing.
func TestExotelWithoutBridgeFailsClearly(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	r := s.do(http.MethodPost, "/call/outbound", s.body("+918044319240", "exotel", s.exotel))
	require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	e := r.Body["error"].(map[string]any)
	require.Equal(t, string(dialq.ReasonBridge), e["reason"])
	require.Contains(t, r.Body["message"], "runs without a line for exotel calls (the SIP bridge is off)")
	data := r.Body["data"].(map[string]any)
	require.Regexp(t, `^exotel-\+918044319240-[0-9a-f]{12}$`, data["room_name"])
	require.Regexp(t, "^AD_", data["agent_dispatch"].(map[string]any)["id"])

	ds := s.agentDispatches(data["room_name"].(string))
	require.Len(t, ds, 1)
	require.Equal(t, data["agent_dispatch"].(map[string]any)["id"], ds[0].Id)
	c := s.call(data["call_id"].(string))
	require.Equal(t, 1, c.Attempts)
	require.Zero(t, len(s.sip.Requests()))
}

// TestDialDeadlineShorterThanRingNeverDials: the API enqueues with a task
// timeout (DIALQ_DIAL_TIMEOUT) that a worker with a longer ring time
// (DIALQ_RING_TIMEOUT) cannot ring within. The worker refuses to dial,
// says which settings disagree, and does not retry: a retry of a call still
// ringing would ring the person twice.
func TestDialDeadlineShorterThanRingNeverDials(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{dialTimeout: 30 * time.Second, ringTimeout: 40 * time.Second})
	r := s.do(http.MethodPost, "/call/outbound", s.body("+15550200000", "twilio", s.twilio))
	require.Equal(t, http.StatusInternalServerError, r.Status, r.Raw)
	e := r.Body["error"].(map[string]any)
	require.Equal(t, string(dialq.ReasonInternal), e["reason"])
	require.Contains(t, r.Body["message"], "DIALQ_RING_TIMEOUT (40s)")
	require.Contains(t, r.Body["message"], "raise DIALQ_DIAL_TIMEOUT")

	c := s.call(r.Body["data"].(map[string]any)["call_id"].(string))
	require.Equal(t, dialq.StatusFailed, c.Status)
	require.Equal(t, 1, c.Attempts, "not retried")
	require.Zero(t, s.dialsTo("+15550200000"), "never dialed")
	info, err := s.inspector().GetTaskInfo(s.queue, c.ID.String())
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStateArchived, info.State, "asynq does not retry it")
}

// TestWaitZeroThenPoll: an asynchronous caller gets 202 at once and finds
// the outcome at the Location URL.
func TestWaitZeroThenPoll(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	r := s.do(http.MethodPost, "/call/outbound?wait=0", s.body("+15550200000", "twilio", s.twilio))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	loc := r.Header.Get("Location")
	var g reply
	waitFor(t, 20*time.Second, "call answered", func() bool {
		g = s.do(http.MethodGet, loc, nil)
		return g.Body["data"].(map[string]any)["status"] == "answered"
	})
	require.Regexp(t, "^PA_", g.Body["data"].(map[string]any)["participant"].(map[string]any)["sid"])
}
