// Command worker runs dialq's asynq server: it takes call:dial tasks off the
// queue and places the calls through LiveKit.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/background"
	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/logging"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/priority"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/sipbridge/sipua"
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
	// The SDK's own default logger prints WebRTC's state changes for every
	// bridged call, unstructured, at info level.
	lksdk.SetLogger(logging.LiveKitSDK(log.With("component", "livekit-sdk")))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Migrate {
		if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
			return err
		}
	}
	// One clock for every time the worker records: the store's, the
	// dialer's and the bridge's.
	now := time.Now
	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns, postgres.WithClock(now))
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
		Now:            now,
		RingTimeout:    cfg.RingTimeout,
		FollowInterval: 500 * time.Millisecond,
	}
	var bridges *sipbridge.Manager
	if cfg.Bridge {
		var stopBridge func()
		if bridges, stopBridge, err = startBridge(cfg, db, rdb, d.Notify, now, log); err != nil {
			return err
		}
		defer stopBridge()
		d.Bridge = bridges
	}
	srv := asynq.NewServerFromRedisClient(rdb, dialer.ServerConfig(cfg.Server, log))
	mux := asynq.NewServeMux()
	d.Register(mux)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	log.Info("worker started", "queue", cfg.Server.Queue, "concurrency", cfg.Server.Concurrency,
		"livekit", cfg.LiveKitURL, "ring_timeout", cfg.RingTimeout)

	sweeper := dialer.NewSweeper(dialer.SweeperConfig{Store: db,
		Enqueue: queue.NewEnqueuer(asynq.NewClientFromRedisClient(rdb), cfg.Dial), Log: log, Age: cfg.SweepAge, Now: now})
	sweeper.Start()
	defer sweeper.Shutdown()

	<-ctx.Done()
	log.Info("shutting down: no new tasks; waiting for dials in flight", "timeout", cfg.Server.ShutdownTimeout)
	srv.Shutdown()
	if bridges != nil {
		bridges.Drain(cfg.DrainTimeout)
	}
	return nil
}

// startBridge starts the Exotel bridge: the SIP user agent, the manager of
// this process's calls, its background services (heartbeat, orphan
// closer, relay log) and the listener for hang-up requests. The returned
// function stops them; until then the heartbeat keeps vouching for the
// calls and they are hung up on request, through the drain after SIGTERM.
func startBridge(cfg config, db *postgres.DB, rdb redis.UniversalClient, n sipbridge.Notifier, now func() time.Time,
	log *slog.Logger) (*sipbridge.Manager, func(), error) {
	if cfg.BridgeNice != 0 {
		// Frames to the phones go out on a 20 ms schedule: see package
		// priority. Without the right to, the calls still work.
		if err := priority.Set(cfg.BridgeNice); err != nil {
			log.Warn("cannot raise the worker's CPU priority for the bridge's audio; RTP to the phones may be late when the cores are busy",
				"DIALQ_BRIDGE_NICE", cfg.BridgeNice, "error", err)
		} else {
			log.Info("worker's CPU priority raised for the bridge's audio", "nice", cfg.BridgeNice)
		}
	}
	if cfg.SecretKey != "" {
		box, err := secret.BoxFromKey(cfg.SecretKey)
		if err != nil {
			return nil, nil, fmt.Errorf("DIALQ_SECRET_KEY: %w", err)
		}
		db.UseSecrets(box)
	}
	ua, err := sipua.New(sipua.Config{ListenAddr: cfg.SIPListen, ContactHost: cfg.SIPContactHost,
		Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("SIP user agent on %s (DIALQ_SIP_LISTEN): %w", cfg.SIPListen, err)
	}
	host, _ := os.Hostname()
	blog := log.With("component", "bridge")
	m := sipbridge.New(sipbridge.Config{
		Worker:     fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8]),
		LiveKitURL: cfg.LiveKitURL, APIKey: cfg.LiveKitAPIKey, APISecret: cfg.LiveKitAPISecret,
		BindIP: cfg.RTPBindIP, RingTimeout: cfg.RingTimeout, NoRTPTimeout: cfg.NoRTPTimeout,
		MaxDuration: cfg.MaxCallDuration, Now: now,
	}, ua, db, n, blog)
	services := []background.Service{
		sipbridge.NewHeartbeat(m, sipbridge.HeartbeatConfig{Interval: cfg.BridgeHeartbeat}),
		sipbridge.NewOrphans(sipbridge.OrphansConfig{Store: db, Notify: n, Log: blog, Interval: cfg.BridgeHeartbeat, Now: now}),
		sipbridge.NewStatsLog(m, sipbridge.StatsLogConfig{Now: now}),
	}
	for _, s := range services {
		s.Start()
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := func() {
		cancel()
		for _, s := range services {
			s.Shutdown()
		}
		ua.Close()
	}
	err = notify.NewHangups(rdb, "").Listen(ctx, log, func(id uuid.UUID, reason string) {
		if m.Hangup(id, reason) {
			log.Info("hanging up on request", "call_id", id, "reason", reason)
		}
	})
	if err != nil {
		stop()
		return nil, nil, err
	}
	log.Info("Exotel bridge ready", "sip_tcp", ua.LocalAddr("tcp").String(), "sip_udp", ua.LocalAddr("udp").String(),
		"rtp_ip", cfg.RTPBindIP, "drain_timeout", cfg.DrainTimeout)
	return m, stop, nil
}
