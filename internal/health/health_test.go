package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/health"
)

// TestReadyzAnswersWithinTheTimeout: checks run at once, each within the
// timeout even when it ignores its context; the answer is in the order the
// checks were given, with their latency; why one failed goes to the log
// only.
func TestReadyzAnswersWithinTheTimeout(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	c := health.New(slog.New(slog.NewTextHandler(&logs, nil)), 200*time.Millisecond,
		health.Check{Name: "postgres", Run: func(context.Context) error { return nil }},
		health.Check{Name: "redis", Run: func(context.Context) error { return errors.New("dial tcp 10.0.0.7:6379: connection refused") }},
		health.Check{Name: "livekit", Run: func(context.Context) error { <-hang; return nil }}, // ignores ctx
	)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)

	start := time.Now()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Less(t, time.Since(start), time.Second, "each check, and so the whole, within the timeout")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	var body struct {
		Success bool
		Message string
		Error   struct{ Code string }
		Data    health.Report
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.False(t, body.Success)
	require.Equal(t, "Not ready: redis, livekit unavailable.", body.Message)
	require.Equal(t, "unavailable", body.Error.Code)
	require.Equal(t, health.StatusUnavailable, body.Data.Status)
	require.Len(t, body.Data.Checks, 3)
	for i, want := range []health.Result{{Name: "postgres", Status: "ok"}, {Name: "redis", Status: "unavailable"}, {Name: "livekit", Status: "unavailable"}} {
		got := body.Data.Checks[i]
		require.Equal(t, want.Name, got.Name)
		require.Equal(t, want.Status, got.Status, want.Name)
	}
	require.GreaterOrEqual(t, body.Data.Checks[2].LatencyMS, 200.0, "the hung check took its timeout")
	require.Less(t, body.Data.Checks[2].LatencyMS, 1000.0)
	require.Contains(t, logs.String(), "10.0.0.7:6379", "the log has why")
	require.Contains(t, logs.String(), "context deadline exceeded")

	ok := health.New(nil, 0, health.Check{Name: "postgres", Run: func(context.Context) error { return nil }})
	rec := httptest.NewRecorder()
	ok.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ready","checks":[{"name":"postgres","status":"ok","latency_ms":`+
		mustLatency(t, rec.Body.Bytes())+`}]}`, rec.Body.String())

	rec = httptest.NewRecorder()
	health.Alive(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
}

func mustLatency(t *testing.T, b []byte) string {
	var r health.Report
	require.NoError(t, json.Unmarshal(b, &r))
	require.Len(t, r.Checks, 1)
	out, _ := json.Marshal(r.Checks[0].LatencyMS)
	return string(out)
}
