package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// syncBuffer is a log sink a test can read while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReadyzNamesFailedChecksAndLogsWhy: /readyz is unauthenticated, so it
// answers which check failed and never the error text (addresses, driver
// messages); that goes to the log.
func TestReadyzNamesFailedChecksAndLogsWhy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dsn := testenv.Postgres(t)
	closed, err := postgres.Open(ctx, dsn, 1)
	require.NoError(t, err)
	require.NoError(t, closed.Close()) // a real store whose Ping fails
	live := testenv.Redis(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })

	tests := []struct {
		name   string
		store  httpapi.Store
		rdb    *redis.Client
		status int
		checks map[string]string // name → status, in this order: postgres, redis
	}{
		{"ready", db, live, http.StatusOK, map[string]string{"postgres": "ok", "redis": "ok"}},
		{"redis down", db, dead, http.StatusServiceUnavailable, map[string]string{"postgres": "ok", "redis": "unavailable"}},
		{"both down", closed, dead, http.StatusServiceUnavailable, map[string]string{"postgres": "unavailable", "redis": "unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			api, err := httpapi.New(nil, tt.store, func(ctx context.Context) error { return tt.rdb.Ping(ctx).Err() }, log, httpapi.Config{})
			require.NoError(t, err)
			srv := httptest.NewServer(api)
			t.Cleanup(srv.Close)

			resp, err := checkedClient(t).Get(srv.URL + "/readyz")
			require.NoError(t, err)
			defer resp.Body.Close()
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			require.Equal(t, tt.status, resp.StatusCode, body)
			raw, _ := json.Marshal(body)
			for _, secret := range []string{"127.0.0.1", "refused", "closed", "dial"} {
				require.NotContains(t, string(raw), secret, "detail leaked to an unauthenticated caller")
			}
			if tt.status == http.StatusOK {
				require.Equal(t, "ready", body["status"])
				requireChecks(t, tt.checks, body["checks"])
				require.Empty(t, logs.String())
				return
			}
			require.Equal(t, false, body["success"])
			require.Equal(t, "unavailable", body["error"].(map[string]any)["code"])
			data := body["data"].(map[string]any)
			require.Equal(t, "unavailable", data["status"])
			requireChecks(t, tt.checks, data["checks"])
			require.Equal(t, "5", resp.Header.Get("Retry-After"))
			require.Contains(t, logs.String(), "127.0.0.1:1", "the log keeps the detail")
			if tt.checks["postgres"] == "unavailable" {
				require.Contains(t, body["message"], "postgres")
				require.Contains(t, logs.String(), "database is closed")
			}
		})
	}
}

// requireChecks: the checks of a /readyz body are postgres then redis, each
// with the status want says and its latency.
func requireChecks(t *testing.T, want map[string]string, got any) {
	t.Helper()
	list, ok := got.([]any)
	require.True(t, ok, "checks is a list: %v", got)
	require.Len(t, list, len(want))
	for i, name := range []string{"postgres", "redis"} {
		c := list[i].(map[string]any)
		require.Equal(t, name, c["name"])
		require.Equal(t, want[name], c["status"], name)
		require.Contains(t, c, "latency_ms")
		require.GreaterOrEqual(t, c["latency_ms"], 0.0)
		require.Less(t, c["latency_ms"], 2000.0, "each check has a short timeout")
	}
}
