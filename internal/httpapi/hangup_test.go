package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// liveBridgedCall stores an answered Exotel call, as the bridge leaves it.
func (h *harness) liveBridgedCall() uuid.UUID {
	h.t.Helper()
	ctx := context.Background()
	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: h.tenant, AssistantID: h.assistant, TrunkID: h.exotel,
		ToNumber: "+918044319240", Service: dialq.ServiceExotel, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err := h.db.CreateCall(ctx, c)
	require.NoError(h.t, err)
	require.NoError(h.t, h.db.MarkDialing(ctx, c.ID, "phone-+918044319240", time.Now()))
	require.NoError(h.t, h.db.RecordInviteSent(ctx, c.ID, "worker-test", "sip-1"))
	_, err = h.db.RecordAnswered(ctx, c.ID, dialq.Participant{SID: "PA_1", Identity: "phone-+918044319240", SIPCallID: "sip-1"}, time.Now())
	require.NoError(h.t, err)
	return c.ID
}

// TestHangupEndsBridgedCall: the request travels over Redis to whoever
// holds the call (here a listener that records the end as the bridge
// does); the API answers 200 with the ended call.
func TestHangupEndsBridgedCall(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	hangups := notify.NewHangups(rdb, testenv.Name("hangup_"))
	h := newHarness(t, func(c *harnessConfig) {
		c.Hangups = hangups
		c.Calls.PollInterval = 20 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	got := make(chan string, 1)
	require.NoError(t, hangups.Listen(ctx, testenv.Logger(t), func(id uuid.UUID, reason string) {
		got <- reason
		if _, err := h.db.RecordEnded(context.Background(), id, dialq.Completed(dialq.EndedByAPI, reason), time.Now()); err != nil {
			t.Errorf("record completed: %v", err)
		}
	}))

	id := h.liveBridgedCall()
	r := h.post("/call/"+id.String()+"/hangup", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "hung up by API", <-got)
	data := r.Body["data"].(map[string]any)
	require.Equal(t, "completed", data["status"])
	require.Equal(t, "hung up by API", data["end_reason"])
	require.Equal(t, "Call hung up.", r.Body["message"])

	// Over is over.
	r = h.post("/call/"+id.String()+"/hangup", nil)
	require.Equal(t, http.StatusConflict, r.Status, r.Raw)
	require.Contains(t, r.Body["message"], "not live (status completed)")
}

// TestHangupRefusals: unknown and foreign calls are 404, a queued call is
// canceled (and over after), a live LiveKit SIP call on an API without
// LiveKit credentials is 503, and a request nobody acts on is 202 with the
// call still live.
func TestHangupRefusals(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	hangups := notify.NewHangups(rdb, testenv.Name("hangup_"))
	h := newHarness(t, func(c *harnessConfig) {
		c.Hangups = hangups
		c.Calls.HangupWait = 200 * time.Millisecond
		c.Calls.PollInterval = 20 * time.Millisecond
	})

	r := h.post("/call/"+uuid.NewString()+"/hangup", nil)
	require.Equal(t, http.StatusNotFound, r.Status, r.Raw)
	r = h.post("/call/not-a-uuid/hangup", nil)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)

	tw := h.post("/call/outbound?wait=0", h.body(nil))
	require.Equal(t, http.StatusAccepted, tw.Status, tw.Raw)
	twID := tw.Body["data"].(map[string]any)["call_id"].(string)
	r = h.post("/call/"+twID+"/hangup", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "canceled", r.Body["data"].(map[string]any)["status"], "a queued call is canceled, never dialed")
	require.Equal(t, "api", r.Body["data"].(map[string]any)["ended_by"])
	r = h.post("/call/"+twID+"/hangup", nil)
	require.Equal(t, http.StatusConflict, r.Status, r.Raw)
	require.Contains(t, r.Body["message"], "not live (status canceled)")

	dialing := h.post("/call/outbound?wait=0", h.body(nil))
	dialingID := uuid.MustParse(dialing.Body["data"].(map[string]any)["call_id"].(string))
	require.NoError(t, h.db.MarkDialing(context.Background(), dialingID, "phone-x", time.Now()))
	r = h.post("/call/"+dialingID.String()+"/hangup", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	require.Contains(t, r.Body["message"], "LIVEKIT_API_SECRET")

	other := newHarness(t)
	r = other.post("/call/"+h.liveBridgedCall().String()+"/hangup", nil)
	require.Equal(t, http.StatusNotFound, r.Status, "another tenant's call: %s", r.Raw)

	// No worker listens: the request is sent and stored, the call stays
	// live until a worker finds it.
	id := h.liveBridgedCall()
	r = h.post("/call/"+id.String()+"/hangup", nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	require.Equal(t, "/call/"+id.String(), r.Header.Get("Location"))
	require.Equal(t, "answered", r.Body["data"].(map[string]any)["status"])
	requireHangupStored(t, h, id)
}

// TestHangupStoredWhenNotPublished: with no way to reach the workers (here
// no Redis at all; in production a lost message), the request is still
// stored for the worker holding the call to find on its heartbeat.
func TestHangupStoredWhenNotPublished(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) {
		c.Calls.HangupWait = 100 * time.Millisecond
		c.Calls.PollInterval = 20 * time.Millisecond
	})
	id := h.liveBridgedCall()
	r := h.post("/call/"+id.String()+"/hangup", nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	requireHangupStored(t, h, id)
}

// requireHangupStored checks the call's row says a worker must hang it up,
// as the holding worker's heartbeat reads it.
func requireHangupStored(t *testing.T, h *harness, id uuid.UUID) {
	t.Helper()
	_, hangups, err := h.db.TouchBridged(context.Background(), "worker-test", []uuid.UUID{id})
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID]string{id: "hung up by API"}, hangups)
	r := h.do(http.MethodGet, "/call/"+id.String(), h.key, "", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Contains(t, r.Raw, `"kind":"hangup_requested"`)
}
