package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// TestEveryTerminalStatusInASignedWebhook: each terminal status, reached
// through what the SIP double answers as LiveKit's SIP service does, the
// reconciler finding the phone gone, and an API hang-up, is in the call's
// timeline and reaches a tenant's endpoint as call.<status>, signed as
// the Standard Webhooks library's own verifier checks.
func TestEveryTerminalStatusInASignedWebhook(t *testing.T) {
	t.Parallel()
	outcomes := map[string]sipdouble.Outcome{
		"+15550500001": {Code: 200, RingFor: 100 * time.Millisecond, HangUpAfter: time.Second},
		"+15550500486": {Code: 486},
		"+15550500480": {Code: 480},
		"+15550500603": {Code: 603},
		"+15550500404": {Code: 404},
		"+15550500503": {Code: 503},
		"+15550500009": {Code: 200, RingFor: time.Minute}, // rings until hung up through the API
	}
	s := newStack(t, stackOptions{script: sipdouble.ByNumber(outcomes, nil),
		reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond}})

	var mu sync.Mutex
	type hit struct {
		header http.Header
		body   []byte
	}
	var hits []hit
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{r.Header.Clone(), b})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	ep := s.do(http.MethodPost, "/webhooks", map[string]any{"url": rc.URL + "/dialq"})
	require.Equal(t, http.StatusCreated, ep.Status, ep.Raw)
	wh, err := standardwebhooks.NewWebhook(ep.Body["data"].(map[string]any)["secret"].(string))
	require.NoError(t, err)

	want := map[string]dialq.CallStatus{
		"+15550500001": dialq.StatusCompleted,
		"+15550500486": dialq.StatusBusy,
		"+15550500480": dialq.StatusNoAnswer,
		"+15550500603": dialq.StatusRejected,
		"+15550500404": dialq.StatusUnreachable,
		"+15550500503": dialq.StatusFailed,
		"+15550500009": dialq.StatusCanceled,
	}
	ids := map[string]string{} // call id → number
	var wg sync.WaitGroup
	var idsMu sync.Mutex
	for number := range want {
		wg.Go(func() {
			wait := "20"
			if number == "+15550500009" {
				wait = "0"
			}
			r := s.do(http.MethodPost, "/call/outbound?wait="+wait, s.body(number, "twilio", s.twilio))
			idsMu.Lock()
			ids[r.Body["data"].(map[string]any)["call_id"].(string)] = number
			idsMu.Unlock()
		})
	}
	wg.Wait()
	for id, number := range ids {
		if number == "+15550500009" {
			waitFor(t, 10*time.Second, "the phone ringing in the room", func() bool {
				c := s.call(id)
				return c.Status == dialq.StatusDialing && s.inRoom(c.RoomName, c.PhoneIdentity())
			})
			h := s.do(http.MethodPost, "/call/"+id+"/hangup", nil)
			require.Equal(t, http.StatusOK, h.Status, h.Raw)
			require.Equal(t, "canceled", h.Body["data"].(map[string]any)["status"], "hung up while it rang")
		}
	}

	for id, number := range ids {
		status := want[number]
		var c *dialq.Call
		waitFor(t, 20*time.Second, number+" "+string(status), func() bool {
			c = s.call(id)
			return c.Status.Terminal()
		})
		require.Equal(t, status, c.Status, number)
		require.NotNil(t, c.EndedAt)
		require.NotEmpty(t, c.EndReason)
		require.NotEmpty(t, c.EndedBy)
		requireLastStatusEvent(t, s, c, status)

		// Its webhook arrives, signed, with the call's record.
		var got map[string]any
		waitFor(t, 20*time.Second, "call."+string(status)+" webhook of "+number, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, h := range hits {
				var ev struct {
					Type string         `json:"type"`
					Data map[string]any `json:"data"`
				}
				require.NoError(t, json.Unmarshal(h.body, &ev))
				if ev.Type == "call."+string(status) && ev.Data["call_id"] == id {
					require.NoError(t, wh.Verify(h.body, h.header), "signature of %s", ev.Type)
					got = ev.Data
					return true
				}
			}
			return false
		})
		require.Equal(t, string(status), got["status"])
		require.Equal(t, number, got["to_number"])
		require.Equal(t, string(c.EndedBy), got["ended_by"])
		if c.SIPStatusCode != 0 {
			require.EqualValues(t, c.SIPStatusCode, got["sip_status_code"], number)
		}
	}
}

// requireLastStatusEvent checks that the last event of c's timeline that
// moved it set status.
func requireLastStatusEvent(t *testing.T, s *stack, c *dialq.Call, status dialq.CallStatus) {
	t.Helper()
	events, err := s.db.Events(t.Context(), c.ID)
	require.NoError(t, err)
	var last dialq.CallStatus
	for _, e := range events {
		if e.Status != "" && !e.Ignored {
			last = e.Status
		}
	}
	require.Equal(t, status, last, "the timeline of %s ends in its status", c.ToNumber)
}
