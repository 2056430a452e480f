// Command api serves dialq's HTTP API: it accepts outbound call requests,
// stores and enqueues them, and waits a bounded time for the worker's
// outcome. It also serves Asynqmon at /monitoring.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/logging"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dialq api:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := logging.New(os.Stderr, cfg.LogLevel).With("service", "api")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Migrate {
		if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
			return err
		}
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer db.Close()

	redisOpt := asynq.RedisClientOpt{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB}
	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s (REDIS_ADDR): %w", cfg.RedisAddr, err)
	}
	client := asynq.NewClientFromRedisClient(rdb)
	hub, err := notify.NewHub(ctx, rdb, cfg.NotifyChannel, log)
	if err != nil {
		return err
	}
	defer hub.Close()

	var mon *httpapi.MonitoringConfig
	if cfg.AdminUser != "" {
		mon = &httpapi.MonitoringConfig{Redis: redisOpt, User: cfg.AdminUser, Password: cfg.AdminPassword, ReadOnly: !cfg.MonitoringWritable}
	}
	api, err := httpapi.New(db, queue.NewEnqueuer(client, cfg.Dial), hub,
		func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, log,
		httpapi.Config{
			DefaultWait:  cfg.DefaultWait,
			MaxWait:      cfg.MaxWait,
			PollInterval: cfg.PollInterval,
			CacheTTL:     cfg.CacheTTL,
			Monitoring:   mon,
			Hangup:       notify.NewHangups(rdb, "").Request,
		})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.MaxWait + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- httpapi.ListenAndServe(srv) }()
	log.Info("api listening", "addr", cfg.Addr, "monitoring", mon != nil)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.MaxWait+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
