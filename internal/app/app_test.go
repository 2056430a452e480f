package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestStartupErrorsAreReturned: a process that cannot start says why (the
// setting to look at), after closing what it had opened; it does not panic.
func TestStartupErrorsAreReturned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn := testenv.Postgres(t)
	deadRedis := app.Redis{Addr: "127.0.0.1:1"}
	log := testenv.Logger(t)

	_, err := app.NewAPI(ctx, app.APIConfig{Addr: "127.0.0.1:0", DatabaseURL: dsn, Redis: deadRedis}, log)
	require.ErrorContains(t, err, "REDIS_ADDR")
	_, err = app.OpenCalls(ctx, app.APIConfig{DatabaseURL: dsn, Redis: deadRedis}, log)
	require.ErrorContains(t, err, "REDIS_ADDR")

	redis := app.Redis{Addr: testenv.Env(t, "REDIS_ADDR")}
	_, err = app.NewAPI(ctx, app.APIConfig{Addr: "203.0.113.1:1", DatabaseURL: dsn, Redis: redis}, log)
	require.ErrorContains(t, err, "DIALQ_API_ADDR")

	_, err = app.NewWorker(ctx, app.WorkerConfig{DatabaseURL: dsn, Redis: deadRedis, SweepAge: time.Minute,
		LiveKit: livekit.Config{URL: "http://127.0.0.1:1"}}, log)
	require.ErrorContains(t, err, "REDIS_ADDR")
	_, err = app.NewWorker(ctx, app.WorkerConfig{DatabaseURL: dsn, Redis: redis, SweepAge: time.Minute,
		LiveKit: livekit.Config{URL: "http://127.0.0.1:1"}, Bridge: &app.BridgeConfig{SIPListen: "203.0.113.1:5060"}}, log)
	require.ErrorContains(t, err, "DIALQ_SIP_LISTEN")
}
