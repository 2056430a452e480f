package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
)

// TestCallQueuedWebhookComesFirst: a call placed through the API, sent
// twice with one Idempotency-Key, is one call whose timeline starts with one
// queued event. Its endpoint gets a signed call.queued first, then one
// webhook per status event of the timeline, in the timeline's order; the
// event stream starts with queued too.
func TestCallQueuedWebhookComesFirst(t *testing.T) {
	t.Parallel()
	// The reconciler learns the end: livekit-server's webhooks go to
	// another address.
	s := newStack(t, stackOptions{script: talkScript, reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond}})

	var mu sync.Mutex
	type hit struct {
		header http.Header
		body   []byte
		Type   string         `json:"type"`
		Data   map[string]any `json:"data"`
	}
	var hits []hit
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := hit{header: r.Header.Clone(), body: b}
		_ = json.Unmarshal(b, &h)
		mu.Lock()
		hits = append(hits, h)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	ep := s.do(http.MethodPost, "/webhooks", map[string]any{"url": rc.URL + "/dialq"})
	require.Equal(t, http.StatusCreated, ep.Status, ep.Raw)
	wh, err := standardwebhooks.NewWebhook(ep.Body["data"].(map[string]any)["secret"].(string))
	require.NoError(t, err)

	key := map[string]string{"Idempotency-Key": "queued-first"}
	first := s.doHeaders(http.MethodPost, "/call/outbound", s.body("+15550300051", "twilio", s.twilio), key)
	require.Equal(t, http.StatusOK, first.Status, first.Raw)
	id := first.Body["data"].(map[string]any)["call_id"].(string)
	repeat := s.doHeaders(http.MethodPost, "/call/outbound", s.body("+15550300051", "twilio", s.twilio), key)
	require.Equal(t, "true", repeat.Header.Get("Idempotent-Replayed"), repeat.Raw)
	require.Equal(t, id, repeat.Body["data"].(map[string]any)["call_id"])

	waitFor(t, 15*time.Second, "the call's end", func() bool { return s.call(id).Status.Terminal() })
	ev := s.do(http.MethodGet, "/call/"+id+"/events", nil)
	require.Equal(t, http.StatusOK, ev.Status, ev.Raw)
	var want []string
	for _, e := range ev.Body["data"].([]any) {
		if st, _ := e.(map[string]any)["status"].(string); st != "" {
			want = append(want, "call."+st)
		}
	}
	first0 := ev.Body["data"].([]any)[0].(map[string]any)
	require.Equal(t, "queued", first0["kind"])
	require.Equal(t, "queued", first0["status"])
	require.Equal(t, "call.queued", want[0])
	require.Equal(t, "call.completed", want[len(want)-1])
	require.Equal(t, 1, strings.Count(strings.Join(want, " "), "call.queued"), "one queued event for the two requests")

	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(hits)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d webhooks after 15 s; deliveries: %s", n, len(want), s.do(http.MethodGet, "/call/"+id+"/webhooks", nil).Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	got := append([]hit(nil), hits...)
	mu.Unlock()
	var types []string
	ids := map[string]bool{}
	for _, h := range got {
		types = append(types, h.Type)
		require.NoError(t, wh.Verify(h.body, h.header), h.Type)
		require.Equal(t, id, h.Data["call_id"])
		require.Equal(t, strings.TrimPrefix(h.Type, "call."), h.Data["status"], "the call as it was at the event")
		ids[h.header.Get("webhook-id")] = true
	}
	t.Logf("webhooks received: %v", types)
	require.Equal(t, want, types, "call.queued first, then each status event in the timeline's order")
	require.Len(t, ids, len(got), "one webhook-id per event")

	// The stream of a call that is over sends its timeline and closes.
	req, err := http.NewRequest(http.MethodGet, s.apiURL+"/call/"+id+"/events?stream=true", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var kinds []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			kinds = append(kinds, k)
		}
	}
	require.NotEmpty(t, kinds)
	require.Equal(t, "queued", kinds[0])
	require.Len(t, kinds, len(ev.Body["data"].([]any)))
}
