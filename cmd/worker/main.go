// Command worker runs dialq's asynq server: it takes call:dial tasks off the
// queue and places the calls through LiveKit.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/logging"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dialq worker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := logging.New(os.Stderr, cfg.LogLevel).With("service", "worker")
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

	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s (REDIS_ADDR): %w", cfg.RedisAddr, err)
	}

	d := &dialer.Dialer{
		Store: db,
		LiveKit: livekit.New(livekit.Config{
			URL: cfg.LiveKitURL, APIKey: cfg.LiveKitAPIKey, APISecret: cfg.LiveKitAPISecret,
			SIPURL: cfg.LiveKitSIPURL, RoomEmptyTimeout: cfg.RoomEmptyTimeout,
		}),
		Notify:         notify.NewPublisher(rdb, cfg.NotifyChannel),
		Log:            log,
		Now:            time.Now,
		RingTimeout:    cfg.RingTimeout,
		FollowInterval: 500 * time.Millisecond,
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:       cfg.Concurrency,
		Queues:            map[string]int{cfg.Dial.Queue: 1},
		TaskCheckInterval: cfg.TaskCheckInterval,
		// asynq checks for due retries every 5 s by default: too slow for a
		// LiveKit blip a waiting caller should not notice.
		DelayedTaskCheckInterval: cfg.RetryCheck,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		RetryDelayFunc:           dialer.RetryDelay(cfg.RetryBase),
		Logger:                   asynqLogger{log},
		LogLevel:                 asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	d.Register(mux)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	log.Info("worker started", "queue", cfg.Dial.Queue, "concurrency", cfg.Concurrency,
		"livekit", cfg.LiveKitURL, "ring_timeout", cfg.RingTimeout)

	sweeper := &dialer.Sweeper{Store: db, Enqueue: queue.NewEnqueuer(asynq.NewClientFromRedisClient(rdb), cfg.Dial),
		Log: log, Now: time.Now, Age: cfg.SweepAge}
	go sweeper.Run(ctx, cfg.SweepAge/2)

	<-ctx.Done()
	log.Info("shutting down: no new tasks; waiting for dials in flight", "timeout", cfg.ShutdownTimeout)
	srv.Shutdown()
	return nil
}
