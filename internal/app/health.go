package app

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/health"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/postgres"
)

// readiness is what /readyz checks, on the API and the worker alike:
// Postgres, Redis and, when the process has a LiveKit client, LiveKit,
// each within health.DefaultTimeout.
func readiness(log *slog.Logger, db *postgres.DB, rdb *redis.Client, lk *livekit.Client) *health.Checker {
	checks := []health.Check{
		{Name: "postgres", Run: db.Ping},
		{Name: "redis", Run: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
	}
	if lk != nil {
		checks = append(checks, health.Check{Name: "livekit", Run: lk.Ping})
	}
	return health.New(log.With("component", "health"), 0, checks...)
}
