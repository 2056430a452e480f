package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/background"
	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/limiter"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/metrics"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/priority"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/reconcile"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/sipbridge/sipua"
	"github.com/dialq/dialq/internal/webhooks"
)

// WorkerConfig is everything the worker process runs with.
type WorkerConfig struct {
	DatabaseURL string // DATABASE_URL
	DBMaxConns  int    // DIALQ_DB_MAX_CONNS
	Migrate     bool   // DIALQ_MIGRATE
	Redis       Redis
	Channels    Channels
	// LiveKit is where rooms, dispatches and SIP participants are made
	// (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, LIVEKIT_SIP_URL,
	// DIALQ_ROOM_EMPTY_TIMEOUT).
	LiveKit livekit.Config
	// Dial are the options of the dial tasks the worker enqueues itself
	// (the sweeper's).
	Dial queue.DialOptions
	// Server is how the worker takes tasks off the queue.
	Server dialer.ServerOptions
	// RingTimeout is how long a phone may ring (DIALQ_RING_TIMEOUT).
	RingTimeout time.Duration
	// SweepAge is how long a call may sit queued before the sweeper
	// re-enqueues it (DIALQ_SWEEP_AGE).
	SweepAge time.Duration
	// Bridge runs dialq's own SIP bridge in this worker; nil leaves it out
	// and fails the calls that need it as bridge_unavailable.
	Bridge *BridgeConfig
	// PublicURL is where the API answers the agents (DIALQ_PUBLIC_URL):
	// each agent's report_url is made of it.
	PublicURL string
	// SecretKey (DIALQ_SECRET_KEY) signs each call's report token; the API
	// must have the same. Empty issues none.
	SecretKey string
	// Reconcile closes LiveKit SIP calls no webhook ended and runs their
	// watchdogs.
	Reconcile ReconcileConfig
	// Webhooks is how the worker sends the tenants' webhooks.
	Webhooks WebhookConfig
	// Limits is the call limiter's part (docs/limits.md).
	Limits LimitsConfig
	// Campaigns is how the worker dials campaigns.
	Campaigns CampaignConfig
	// HTTPAddr is where the worker serves /metrics, /healthz and /readyz
	// (DIALQ_WORKER_HTTP_ADDR; port 0 picks one); empty serves none.
	HTTPAddr string
}

// LimitsConfig is the call limiter's part of the worker's config.
type LimitsConfig struct {
	// Prefix starts the limiter's Redis keys (DIALQ_LIMIT_PREFIX);
	// limiter.DefaultPrefix when empty. Every worker of a deployment must
	// have the same.
	Prefix string
	// SweepInterval is how often the janitor frees the slots of calls over
	// whose end no worker heard (DIALQ_LIMIT_SWEEP_INTERVAL); 30 s when
	// zero.
	SweepInterval time.Duration
}

// CampaignConfig is the campaigns' part of the worker's config.
type CampaignConfig struct {
	// Concurrency is how many campaign calls the worker dials at once, on
	// the campaign queue (DIALQ_CAMPAIGN_CONCURRENCY), apart from the dial
	// queue's DIALQ_WORKER_CONCURRENCY. Default 100.
	Concurrency int
	// Tick is how often the scheduler passes over the campaigns
	// (DIALQ_CAMPAIGN_TICK). Default 250 ms.
	Tick time.Duration
}

// ReconcileConfig is the reconciler's part of the worker's config.
type ReconcileConfig struct {
	Interval    time.Duration // DIALQ_RECONCILE_INTERVAL: how often live LiveKit SIP calls are checked
	MaxDuration time.Duration // DIALQ_MAX_CALL_DURATION: answered calls this long are hung up
	AgentGrace  time.Duration // DIALQ_AGENT_GRACE: an answered call with no agent this long is hung up (the bridge's kept calls too)
}

// WebhookConfig is the webhook delivery's part of the worker's config.
type WebhookConfig struct {
	// Queue is the queue of the webhook:deliver tasks (DIALQ_WEBHOOK_QUEUE);
	// empty shares the dial queue (queue.WebhookOptions says why). Another
	// queue is polled beside the dial queue.
	Queue string
	// AllowPrivate lets deliveries reach loopback and private addresses
	// (DIALQ_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// SweepAge is how long past its time a delivery may wait before the
	// sweeper enqueues it again (DIALQ_WEBHOOK_SWEEP_AGE); default 30 s.
	SweepAge time.Duration
}

// BridgeConfig is the SIP bridge's part of the worker's config.
type BridgeConfig struct {
	SecretKey       string        // DIALQ_SECRET_KEY: opens the trunks' sealed SIP passwords
	SIPListen       string        // DIALQ_SIP_LISTEN: where in-dialog SIP requests (BYE, re-INVITE) arrive
	SIPContactHost  string        // DIALQ_SIP_CONTACT_HOST: the address the carrier reaches the listener at
	RTPBindIP       string        // DIALQ_RTP_BIND_IP: local address of the calls' RTP ports
	NoRTPTimeout    time.Duration // DIALQ_NO_RTP_TIMEOUT: an answered call with no audio this long ends
	MaxCallDuration time.Duration // DIALQ_MAX_CALL_DURATION
	DrainTimeout    time.Duration // DIALQ_DRAIN_TIMEOUT: on shutdown, how long live calls may go on
	Heartbeat       time.Duration // DIALQ_BRIDGE_HEARTBEAT: how often the worker vouches for its calls
	Nice            int           // DIALQ_BRIDGE_NICE: the process's nice value while it bridges; 0 leaves it
	// Worker names this process on the calls it holds; empty makes one of
	// the host name, PID and a random part.
	Worker string
}

// WorkerOption changes how NewWorker builds a worker. Only tests use them.
type WorkerOption func(*workerOptions)

type workerOptions struct {
	wrapLiveKit func(dialq.LiveKit) dialq.LiveKit
}

// WithLiveKit puts wrap around the worker's LiveKit client: a test that
// fails or delays a step in the middle of a real call.
func WithLiveKit(wrap func(dialq.LiveKit) dialq.LiveKit) WorkerOption {
	return func(o *workerOptions) { o.wrapLiveKit = wrap }
}

// Worker is a running worker process: the asynq server with the dialer,
// the sweeper and, when configured, the SIP bridge.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
	// now is the one clock of everything the worker records: the store's,
	// the dialer's and the bridge's.
	now   func() time.Time
	DB    *postgres.DB
	Redis *redis.Client
	// Dialer runs the call:dial tasks.
	Dialer *dialer.Dialer
	// Webhooks runs the webhook:deliver tasks.
	Webhooks *webhooks.Deliverer
	// Bridge holds the calls this process bridges; nil without a bridge.
	Bridge *sipbridge.Manager
	// Limiter holds every call under its limits before the dialer dials
	// it; the worker frees a call's slots when it hears the call ended.
	Limiter *limiter.Limiter
	// Reconciler closes the LiveKit SIP calls no webhook ended.
	Reconciler *reconcile.Reconciler
	// Campaigns is the campaigns service the scheduler and the dialer's
	// check before each campaign call use; Scheduler places their calls.
	Campaigns *campaigns.Service
	Scheduler *campaigns.Scheduler
	ua        *sipua.UA
	srv       *asynq.Server
	// campaignSrv serves the campaign queue with its own concurrency.
	campaignSrv *asynq.Server
	// services run beside the asynq server: the sweeper, the reconciler,
	// the limiter's janitor, the webhook dispatcher and sweeper, and the
	// bridge's heartbeat, orphan closer and relay log.
	services []background.Service
	// dispatcher turns Postgres's notifications of new deliveries into
	// webhook:deliver tasks.
	dispatcher *webhooks.Dispatcher
	// Metrics counts what the worker does; ops serves it, with the
	// probes, when HTTPAddr is set.
	Metrics *metrics.Metrics
	ops     *opsServer
}

// HTTPURL is where the worker serves /metrics, /healthz and /readyz, ""
// without HTTPAddr.
func (w *Worker) HTTPURL() string {
	if w.ops == nil {
		return ""
	}
	return w.ops.URL()
}

// WebhooksListening is closed once Run's webhook dispatcher has asked
// Postgres to LISTEN. A delivery made before it (a call accepted by an API
// while no worker listened) waits for the sweeper instead, up to
// DIALQ_WEBHOOK_SWEEP_AGE and a sweep: a test that times its webhooks
// waits for this first.
func (w *Worker) WebhooksListening() <-chan struct{} { return w.dispatcher.Listening() }

// NewWorker builds the worker of cfg; Run starts it.
func NewWorker(ctx context.Context, cfg WorkerConfig, log *slog.Logger, opts ...WorkerOption) (w *Worker, err error) {
	var o workerOptions
	for _, opt := range opts {
		opt(&o)
	}
	// A failed step returns a nil *Worker: close what the steps before it
	// opened through this pointer, not through the result.
	built := &Worker{cfg: cfg, log: log, now: time.Now, Metrics: metrics.New()}
	w = built
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if w.DB, err = openDB(ctx, cfg.DatabaseURL, cfg.DBMaxConns, cfg.Migrate, postgres.WithClock(w.now),
		postgres.WithCallMoves(w.Metrics.CallMoved)); err != nil {
		return nil, err
	}
	if w.Redis, err = cfg.Redis.connect(ctx); err != nil {
		return nil, err
	}
	lkClient := livekit.New(cfg.LiveKit)
	var lk dialq.LiveKit = lkClient
	if o.wrapLiveKit != nil {
		lk = o.wrapLiveKit(lk)
	}
	pub := notify.NewPublisher(w.Redis, cfg.Channels.Notify)
	w.Dialer = &dialer.Dialer{
		Store:       w.DB,
		Rooms:       lk,
		Lines:       map[dialq.CallService]dialq.Line{dialq.ServiceTwilio: livekit.NewLine(lk, cfg.RingTimeout)},
		Notify:      pub,
		Phones:      lk,
		Log:         log,
		Now:         w.now,
		RingTimeout: cfg.RingTimeout,
		PublicURL:   cfg.PublicURL,
		Steps:       w.Metrics,
	}
	w.Limiter = limiter.New(w.Redis, limiter.Config{Prefix: cfg.Limits.Prefix})
	w.Dialer.Limiter, w.Dialer.Limits = w.Limiter, []dialer.LimitSource{w.DB}
	w.Dialer.MaxCallDuration = cfg.Reconcile.MaxDuration
	if w.Dialer.ReportTokens, err = reportTokens(cfg.SecretKey); err != nil {
		return nil, err
	}
	if w.Dialer.ReportTokens == nil {
		log.Warn("no DIALQ_SECRET_KEY: agents get no report token and must report with the tenant's API key")
	}
	if cfg.Bridge != nil {
		if err := w.newBridge(*cfg.Bridge, pub); err != nil {
			return nil, err
		}
		w.Dialer.Lines[dialq.ServiceExotel] = w.Bridge
	}
	scfg := dialer.ServerConfig(cfg.Server, log)
	whQueue := cfg.Webhooks.Queue
	if whQueue == "" {
		whQueue = cfg.Server.Queue
	}
	scfg.Queues[whQueue] = 1
	w.srv = asynq.NewServerFromRedisClient(w.Redis, scfg)
	client := asynq.NewClientFromRedisClient(w.Redis)
	w.newCampaigns(client)
	w.services = append(w.services, dialer.NewSweeper(dialer.SweeperConfig{Store: w.DB,
		Enqueue: queue.NewEnqueuer(client, cfg.Dial), Log: log, Age: cfg.SweepAge, Now: w.now}))
	w.Reconciler = reconcile.NewReconciler(reconcile.Config{Store: w.DB, LiveKit: lk, Notify: pub, Log: log,
		Interval: cfg.Reconcile.Interval, MaxDuration: cfg.Reconcile.MaxDuration, AgentGrace: cfg.Reconcile.AgentGrace,
		RingTimeout: cfg.RingTimeout, RingMargin: 4 * dialq.DialMargin, Now: w.now})
	w.services = append(w.services, w.Reconciler, limiter.NewJanitor(limiter.JanitorConfig{Limiter: w.Limiter,
		Calls: w.DB, Log: log.With("component", "limiter"), Interval: cfg.Limits.SweepInterval}))
	if err := w.newWebhooks(ctx, queue.NewWebhookEnqueuer(client, queue.WebhookOptions{Queue: whQueue})); err != nil {
		return nil, err
	}
	w.newMetrics(whQueue)
	if cfg.HTTPAddr != "" {
		if w.ops, err = newOpsServer(cfg.HTTPAddr, w.Metrics, readiness(log, w.DB, w.Redis, lkClient), log); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// newMetrics adds what is read at each scrape: the queues the worker
// serves, and what its bridge relayed.
func (w *Worker) newMetrics(webhookQueue string) {
	dial := w.cfg.Dial
	if dial.Queue == "" {
		dial.Queue = w.cfg.Server.Queue // as newCampaigns names the campaign queue
	}
	queues := []string{w.cfg.Server.Queue}
	for _, q := range []string{dial.CampaignQueueName(), webhookQueue} {
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	w.Metrics.AddQueues(metrics.QueueConfig{Inspector: asynq.NewInspectorFromRedisClient(w.Redis), Queues: queues,
		Log: w.log.With("component", "metrics")})
	if w.Bridge == nil {
		return
	}
	bridge := w.Bridge
	w.Metrics.AddBridge(func() metrics.BridgeStats {
		s := bridge.Stats()
		return metrics.BridgeStats{Live: s.Live, Ended: s.Ended, PacketsIn: s.PacketsIn, PacketsDropped: s.PacketsDropped,
			PacketsOut: s.PacketsOut, LateFrames: s.LateFrames, FramesSkipped: s.FramesSkipped,
			SendJitter: s.LiveSendJitter, MaxSendJitter: s.MaxSendJitter}
	})
}

// newCampaigns builds the campaigns' part of the worker: the campaigns
// service over a calls service of its own (the scheduler places calls as
// the API does), the check before each campaign call's dial, the
// scheduler, and a second asynq server for the campaign queue, so that
// campaign calls never take the dial queue's worker slots.
func (w *Worker) newCampaigns(client *asynq.Client) {
	cfg := w.cfg.Campaigns
	dial := w.cfg.Dial
	if dial.Queue == "" {
		dial.Queue = w.cfg.Server.Queue
	}
	clog := w.log.With("component", "campaigns")
	svc := calls.New(w.DB, queue.NewEnqueuer(client, dial), nil, nil, clog, calls.Config{CacheTTL: 5 * time.Second})
	svc.Now = w.now
	w.Campaigns = campaigns.New(w.DB, svc, clog, campaigns.Config{})
	w.Campaigns.Now = w.now
	w.Dialer.Campaigns = w.Campaigns
	w.Scheduler = campaigns.NewScheduler(w.Campaigns, campaigns.SchedulerConfig{Interval: cfg.Tick, Log: clog})
	w.services = append(w.services, w.Scheduler)
	so := w.cfg.Server
	so.Queue = dial.CampaignQueueName()
	so.Concurrency = cfg.Concurrency
	if so.Concurrency <= 0 {
		so.Concurrency = 100
	}
	w.campaignSrv = asynq.NewServerFromRedisClient(w.Redis, dialer.ServerConfig(so, w.log))
}

// newWebhooks builds the webhook delivery: the deliverer the asynq server
// runs, the dispatcher that enqueues a delivery as soon as Postgres
// announces it, and the sweeper for what a lost announcement left.
func (w *Worker) newWebhooks(ctx context.Context, enq *queue.WebhookEnqueuer) error {
	cfg := w.cfg.Webhooks
	wlog := w.log.With("component", "webhooks")
	guard := webhooks.Guard{AllowPrivate: cfg.AllowPrivate}
	w.Webhooks = webhooks.NewDeliverer(webhooks.DelivererConfig{Store: w.DB, Enqueue: enq,
		Client: guard.Client(webhooks.RequestTimeout), Log: wlog, Now: w.now, Observe: w.Metrics.ObserveWebhook})
	channel, err := w.DB.WebhookChannel(ctx)
	if err != nil {
		return err
	}
	sweeper := webhooks.NewSweeper(webhooks.SweeperConfig{Store: w.DB, Enqueue: enq, Log: wlog, Age: cfg.SweepAge, Now: w.now})
	dispatcher := webhooks.NewDispatcher(webhooks.DispatcherConfig{DSN: w.cfg.DatabaseURL, Channel: channel, Enqueue: enq, Log: wlog,
		Reconnected: func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := sweeper.Sweep(sctx); err != nil {
				wlog.Warn("sweep webhook deliveries after reconnecting", "err", err)
			}
		}})
	w.dispatcher = dispatcher
	w.services = append(w.services, dispatcher, sweeper)
	return nil
}

// newBridge builds the SIP bridge: its user agent and the manager of the
// calls it holds.
func (w *Worker) newBridge(cfg BridgeConfig, n sipbridge.Notifier) error {
	if cfg.Nice != 0 {
		// Frames to the phones go out on a 20 ms schedule: see package
		// priority. Without the right to, the calls still work.
		if err := priority.Set(cfg.Nice); err != nil {
			w.log.Warn("cannot raise the worker's CPU priority for the bridge's audio; RTP to the phones may be late when the cores are busy",
				"DIALQ_BRIDGE_NICE", cfg.Nice, "error", err)
		} else {
			w.log.Info("worker's CPU priority raised for the bridge's audio", "nice", cfg.Nice)
		}
	}
	if cfg.SecretKey != "" {
		box, err := secret.BoxFromKey(cfg.SecretKey)
		if err != nil {
			return fmt.Errorf("DIALQ_SECRET_KEY: %w", err)
		}
		w.DB.UseSecrets(box)
	}
	ua, err := sipua.New(sipua.Config{ListenAddr: cfg.SIPListen, ContactHost: cfg.SIPContactHost, Log: w.log})
	if err != nil {
		return fmt.Errorf("SIP user agent on %s (DIALQ_SIP_LISTEN): %w", cfg.SIPListen, err)
	}
	w.ua = ua
	name := cfg.Worker
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	lk := w.cfg.LiveKit
	blog := w.log.With("component", "bridge")
	w.Bridge = sipbridge.New(sipbridge.Config{
		Worker: name, LiveKitURL: lk.URL, APIKey: lk.APIKey, APISecret: lk.APISecret,
		BindIP: cfg.RTPBindIP, RingTimeout: w.cfg.RingTimeout, NoRTPTimeout: cfg.NoRTPTimeout,
		MaxDuration: cfg.MaxCallDuration, AgentGrace: w.cfg.Reconcile.AgentGrace, Now: w.now,
	}, ua, w.DB, n, blog)
	w.services = append(w.services,
		sipbridge.NewHeartbeat(w.Bridge, sipbridge.HeartbeatConfig{Interval: cfg.Heartbeat}),
		sipbridge.NewOrphans(sipbridge.OrphansConfig{Store: w.DB, Notify: n, Log: blog, Interval: cfg.Heartbeat, Now: w.now}),
		sipbridge.NewStatsLog(w.Bridge, sipbridge.StatsLogConfig{Now: w.now}),
	)
	return nil
}

// Run starts taking tasks and the background services, and runs until ctx
// ends. Then it drains, in this order, logging each step
// (docs/architecture.md, Shutdown): the campaign scheduler stops placing
// calls and commits the pass under way; both asynq servers take no new
// tasks and let the dials and webhook deliveries in flight finish
// (Server.ShutdownTimeout; asynq requeues what is left); the bridged calls
// drain (DrainTimeout), vouched for and hearing hang-up requests until the
// last one ends; then the other background services stop.
func (w *Worker) Run(ctx context.Context) error {
	if w.ops != nil {
		// First in, last out: the probes and the metrics answer through
		// the drain.
		w.ops.start()
		defer w.ops.close()
	}
	for _, s := range w.services {
		s.Start()
	}
	defer func() {
		start := time.Now()
		for _, s := range w.services {
			s.Shutdown()
		}
		w.log.Info("shutdown: background services stopped", "took", time.Since(start).Round(time.Millisecond))
	}()
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	// Every end of a call is announced, whoever ended it (the API's
	// webhook and hang-up, the reconciler, the bridge, the dialer): hearing
	// it frees the call's slots. The janitor frees those whose message was
	// lost.
	if err := notify.NewChanges(w.Redis, w.cfg.Channels.Notify).Listen(bg, w.log, w.callChanged); err != nil {
		return err
	}
	if w.Bridge != nil {
		bridge := w.Bridge
		err := notify.NewHangups(w.Redis, w.cfg.Channels.Hangup).Listen(bg, w.log, func(id uuid.UUID, reason string) {
			if bridge.Hangup(id, reason) {
				w.log.Info("hanging up on request", "call_id", id, "reason", reason)
			}
		})
		if err != nil {
			return err
		}
		w.log.Info("SIP bridge ready", "sip_tcp", w.ua.LocalAddr("tcp").String(), "sip_udp", w.ua.LocalAddr("udp").String(),
			"rtp_ip", w.cfg.Bridge.RTPBindIP, "drain_timeout", w.cfg.Bridge.DrainTimeout)
	}
	mux := asynq.NewServeMux()
	w.Dialer.Register(mux)
	w.Webhooks.Register(mux)
	if err := w.srv.Start(mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	// The campaign queue runs the same call:dial handler.
	campaignMux := asynq.NewServeMux()
	w.Dialer.Register(campaignMux)
	if err := w.campaignSrv.Start(campaignMux); err != nil {
		w.srv.Shutdown()
		return fmt.Errorf("start the campaign queue's asynq server: %w", err)
	}
	w.log.Info("worker started", "queue", w.cfg.Server.Queue, "concurrency", w.cfg.Server.Concurrency,
		"livekit", w.cfg.LiveKit.URL, "ring_timeout", w.cfg.RingTimeout)

	<-ctx.Done()
	w.drain()
	return nil
}

// drain is Run's shutdown, step by step; the deferred stop of the
// background services follows it.
func (w *Worker) drain() {
	start := time.Now()
	w.log.Info("shutting down: the campaign scheduler stops placing calls")
	w.Scheduler.Shutdown()
	w.log.Info("shutdown: campaign scheduler stopped; no new tasks, waiting for dials and webhook deliveries in flight",
		"took", time.Since(start).Round(time.Millisecond), "timeout", w.cfg.Server.ShutdownTimeout)
	// Both servers let their tasks in flight finish, side by side.
	step := time.Now()
	campaignsDone := make(chan struct{})
	go func() { w.campaignSrv.Shutdown(); close(campaignsDone) }()
	w.srv.Shutdown()
	<-campaignsDone
	w.log.Info("shutdown: task servers stopped", "took", time.Since(step).Round(time.Millisecond))
	if w.Bridge != nil {
		step = time.Now()
		w.Bridge.Drain(w.cfg.Bridge.DrainTimeout)
		w.log.Info("shutdown: bridged calls drained", "took", time.Since(step).Round(time.Millisecond))
	}
	w.log.Info("shutdown: drained", "took", time.Since(start).Round(time.Millisecond))
}

// callChanged frees the slots of a call that ended.
func (w *Worker) callChanged(id uuid.UUID, s dialq.CallStatus) {
	if !s.Terminal() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Limiter.Release(ctx, id); err != nil {
		w.log.Warn("free the slots of a call over; the janitor will", "call_id", id, "err", err)
	}
}

// Close releases what NewWorker opened. Call it after Run returns.
func (w *Worker) Close() {
	if w.ops != nil {
		w.ops.close()
	}
	if w.ua != nil {
		w.ua.Close()
	}
	if w.Redis != nil {
		w.Redis.Close()
	}
	if w.DB != nil {
		w.DB.Close()
	}
}
