// Package testenv connects tests to the local stack `make up` starts (real
// PostgreSQL, Redis and livekit-server on 127.0.0.1) and isolates each test:
// its own Postgres schema, its own queue and notification channel names, its
// own ports (PortBlock), its own sipp standing in for a SIP peer (Sipp).
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/postgres"
)

// Env reads a stack variable, failing the test with how to get one.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: these tests run against the local stack; run them with `make test` "+
			"(or `make up` and `. .dialq/stack.env` first)", name)
	}
	return v
}

// Name returns a short unique name with prefix, for schemas, queues, rooms.
func Name(prefix string) string {
	return prefix + strings.ToLower(rand.Text()[:10])
}

// Postgres makes a fresh schema, migrates it and returns the store, opened
// with opts, and the DSN that points at the schema. The schema is dropped
// after the test.
func Postgres(t testing.TB, opts ...postgres.Option) (*postgres.DB, string) {
	t.Helper()
	ctx := context.Background()
	base := Env(t, "DATABASE_URL")
	schema := Name("t_")

	admin, err := sql.Open("postgres", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	_, err = admin.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err, "create test schema (is `make up` running?)")
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})

	dsn := WithSearchPath(t, base, schema)
	require.NoError(t, postgres.Migrate(ctx, dsn))
	db, err := postgres.Open(ctx, dsn, 10, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db, dsn
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Redis returns a client of the stack's Redis.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: Env(t, "REDIS_ADDR")})
	require.NoError(t, rdb.Ping(context.Background()).Err(), "redis (is `make up` running?)")
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// LiveKit is where the stack's livekit-server listens.
type LiveKit struct {
	URL, APIKey, APISecret string
}

// LiveKitServer returns the stack's livekit-server.
func LiveKitServer(t testing.TB) LiveKit {
	t.Helper()
	return LiveKit{URL: Env(t, "LIVEKIT_URL"), APIKey: Env(t, "LIVEKIT_API_KEY"), APISecret: Env(t, "LIVEKIT_API_SECRET")}
}

// QuietLiveKitSDK discards what the LiveKit SDK logs through its global
// logger, for a TestMain to call: the SDK logs its WebRTC (pion) chatter
// there, not through the per-room logger, and it would bury test output.
func QuietLiveKitSDK() {
	lksdk.SetLogger(protologger.LogRLogger(logr.Discard()))
}

// Logger returns a logger whose lines are shown only if the test fails.
// Goroutines may keep logging after the test ends; that is harmless here.
func Logger(t testing.TB) *slog.Logger {
	buf := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", t.Name(), buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SQL runs a query returning one text value on dsn, for assertions about
// what is stored.
func SQL(t testing.TB, dsn, query string, args ...any) string {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	require.NoError(t, err)
	defer db.Close()
	var s string
	require.NoError(t, db.QueryRowContext(context.Background(), query, args...).Scan(&s))
	return s
}
