package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/metrics"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/webhooks"
)

// APIConfig is everything the API process runs with.
type APIConfig struct {
	// Addr is where the API listens (DIALQ_API_ADDR); port 0 picks one.
	Addr        string
	DatabaseURL string // DATABASE_URL
	DBMaxConns  int    // DIALQ_DB_MAX_CONNS
	Migrate     bool   // DIALQ_MIGRATE: apply migrations at start
	Redis       Redis
	Channels    Channels
	// Dial are the options of every dial task the API enqueues
	// (DIALQ_QUEUE, DIALQ_DIAL_MAX_RETRY, DIALQ_DIAL_TIMEOUT,
	// DIALQ_TASK_RETENTION).
	Dial queue.DialOptions
	// HTTP tunes the handlers (DIALQ_WAIT_DEFAULT, DIALQ_WAIT_MAX,
	// DIALQ_CACHE_TTL, the Asynqmon login).
	HTTP httpapi.Config
	// Calls tunes the calls service (DIALQ_WAIT_POLL, DIALQ_CACHE_TTL).
	Calls calls.Config
	// Campaigns tunes the campaigns service (DIALQ_MAX_UPLOADS).
	Campaigns campaigns.Config
	// SecretKey (DIALQ_SECRET_KEY) checks the report tokens of the calls'
	// agents; the workers must have the same. Empty: agents report with
	// the tenant's API key only.
	SecretKey string
	// LiveKit, when set (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET),
	// lets the API verify LiveKit's webhooks and hang up LiveKit SIP calls.
	LiveKit livekit.Config
	// WebhookAllowPrivate lets endpoints point at loopback and private
	// addresses (DIALQ_WEBHOOK_ALLOW_PRIVATE).
	WebhookAllowPrivate bool
	// ShutdownTimeout (DIALQ_API_SHUTDOWN_TIMEOUT) bounds Run's drain once
	// its context ends: requests in flight finish within it, or their
	// connections are closed. Default DefaultAPIShutdownTimeout.
	ShutdownTimeout time.Duration
}

// DefaultAPIShutdownTimeout is how long a stopping API lets requests in
// flight finish. Waits end at once and event streams close as the drain
// starts, so what is left are requests being answered (milliseconds) and
// campaign uploads still being sent.
const DefaultAPIShutdownTimeout = 10 * time.Second

// Calls is the calls service with what it stands on: Postgres, the queue,
// the change notifications and the hang-up channel. The API serves it over
// HTTP; dialqctl calls it directly.
type Calls struct {
	// Metrics counts what the process does (the store's status changes
	// here; the API's requests too).
	Metrics *metrics.Metrics
	DB      *postgres.DB
	Redis   *redis.Client
	hub     *notify.Hub
	// liveKit is the API's LiveKit client; nil without LIVEKIT_URL.
	liveKit *livekit.Client
	Service *calls.Service
	// Campaigns is the campaigns service, over Service.
	Campaigns *campaigns.Service
}

// OpenCalls builds the calls service of cfg (its HTTP parts unused).
func OpenCalls(ctx context.Context, cfg APIConfig, log *slog.Logger) (c *Calls, err error) {
	// A failed step returns a nil *Calls: close what the steps before it
	// opened through this pointer, not through the result.
	built := &Calls{Metrics: metrics.New()}
	c = built
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if c.DB, err = openDB(ctx, cfg.DatabaseURL, cfg.DBMaxConns, cfg.Migrate, postgres.WithCallMoves(c.Metrics.CallMoved)); err != nil {
		return nil, err
	}
	if c.Redis, err = cfg.Redis.connect(ctx); err != nil {
		return nil, err
	}
	if c.hub, err = notify.NewHub(ctx, c.Redis, cfg.Channels.Notify, log); err != nil {
		return nil, err
	}
	enq := queue.NewEnqueuer(asynq.NewClientFromRedisClient(c.Redis), cfg.Dial)
	callsCfg := cfg.Calls
	if callsCfg.ReportTokens, err = reportTokens(cfg.SecretKey); err != nil {
		return nil, err
	}
	c.Service = calls.New(c.DB, enq, c.hub, notify.NewHangups(c.Redis, cfg.Channels.Hangup), log, callsCfg)
	c.Service.UseReports(&webhooks.Outbox{Store: c.DB})
	if cfg.LiveKit.URL != "" {
		c.liveKit = livekit.New(cfg.LiveKit)
		c.Service.UseLiveKit(c.liveKit, notify.NewPublisher(c.Redis, cfg.Channels.Notify))
	}
	c.Campaigns = campaigns.New(c.DB, c.Service, log, cfg.Campaigns)
	return c, nil
}

// Close releases what OpenCalls opened.
func (c *Calls) Close() {
	if c.hub != nil {
		c.hub.Close()
	}
	if c.Redis != nil {
		c.Redis.Close()
	}
	if c.DB != nil {
		c.DB.Close()
	}
}

// API is a running API process: the calls service and its HTTP server.
type API struct {
	cfg APIConfig
	log *slog.Logger
	*Calls
	Handler *httpapi.Server
	ln      net.Listener
	srv     *http.Server
	// drain is how long Run lets requests in flight finish.
	drain time.Duration
}

// NewAPI builds the API of cfg and binds its listener; Run serves it.
func NewAPI(ctx context.Context, cfg APIConfig, log *slog.Logger) (a *API, err error) {
	// A failed step returns a nil *API: close what the steps before it
	// opened through this pointer, not through the result.
	built := &API{cfg: cfg, log: log}
	a = built
	if built.Calls, err = OpenCalls(ctx, cfg, log); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	rdb := a.Redis
	httpCfg := cfg.HTTP
	if cfg.LiveKit.APIKey != "" {
		httpCfg.LiveKitWebhooks = livekit.NewWebhooks(cfg.LiveKit.APIKey, cfg.LiveKit.APISecret)
	}
	httpCfg.Webhooks = webhooks.NewService(a.DB, webhooks.Guard{AllowPrivate: cfg.WebhookAllowPrivate})
	httpCfg.Campaigns = a.Campaigns
	httpCfg.Metrics = a.Metrics
	httpCfg.Health = readiness(log, a.DB, a.Redis, a.liveKit)
	if a.Handler, err = httpapi.New(a.Service, a.DB, func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, log, httpCfg); err != nil {
		return nil, err
	}
	if a.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s (DIALQ_API_ADDR): %w", cfg.Addr, err)
	}
	maxWait := cfg.HTTP.MaxWait
	if maxWait == 0 {
		maxWait = time.Minute
	}
	if a.drain = cfg.ShutdownTimeout; a.drain <= 0 {
		a.drain = DefaultAPIShutdownTimeout
	}
	a.srv = &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      maxWait + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	// As the drain starts, requests waiting on a call's outcome answer what
	// the call is now (the 202 of a wait that timed out) and event streams
	// end; the other requests in flight finish as they are.
	a.srv.RegisterOnShutdown(a.Service.EndWaits)
	a.srv.RegisterOnShutdown(a.Handler.EndStreams)
	return a, nil
}

// URL is where the API answers, e.g. http://127.0.0.1:58080.
func (a *API) URL() string { return "http://" + a.ln.Addr().String() }

// Run serves until ctx ends, then drains (docs/architecture.md, Shutdown):
// it stops accepting connections, ends every wait on a call's outcome (the
// request answers 202 with the call as it stands) and every event stream,
// and lets the requests in flight finish for up to ShutdownTimeout; then it
// closes the connections still open and returns. A request whose call was
// stored and enqueued is answered: the call goes on in the workers.
func (a *API) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	// httpapi.Serve answers what net/http answers itself (a malformed
	// request) in the API's JSON error shape.
	go func() { errc <- httpapi.Serve(a.srv, a.ln) }()
	a.log.Info("api listening", "addr", a.ln.Addr().String(), "monitoring", a.cfg.HTTP.Monitoring != nil)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	start := time.Now()
	a.log.Info("shutting down: no new connections; waits answer now; letting requests in flight finish", "timeout", a.drain)
	sctx, cancel := context.WithTimeout(context.Background(), a.drain)
	defer cancel()
	err := a.srv.Shutdown(sctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		a.log.Warn("requests still in flight after the shutdown timeout; closing their connections",
			"timeout", a.drain, "DIALQ_API_SHUTDOWN_TIMEOUT", a.drain)
		if err := a.srv.Close(); err != nil {
			return err
		}
	case err != nil && !errors.Is(err, http.ErrServerClosed):
		return err
	}
	a.log.Info("api stopped", "drained_in", time.Since(start).Round(time.Millisecond))
	return nil
}

// Close releases what NewAPI opened. Call it after Run returns.
func (a *API) Close() {
	if a.ln != nil {
		a.ln.Close()
	}
	a.Calls.Close()
}

// openDB migrates when asked, then opens the store.
func openDB(ctx context.Context, dsn string, maxConns int, migrate bool, opts ...postgres.Option) (*postgres.DB, error) {
	if migrate {
		if err := postgres.Migrate(ctx, dsn); err != nil {
			return nil, err
		}
	}
	return postgres.Open(ctx, dsn, maxConns, opts...)
}
