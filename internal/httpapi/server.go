// Package httpapi is dialq's HTTP API: POST /call/outbound, GET /call/{id},
// health probes and the Asynqmon dashboard, on Gin. Handlers stay thin:
// they authenticate, decode, call the calls service and encode.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/health"
	"github.com/dialq/dialq/internal/metrics"
	"github.com/dialq/dialq/internal/ttlcache"
	"github.com/dialq/dialq/internal/webhooks"
)

// Store is what the API itself reads in Postgres: API keys, and whether
// Postgres answers. The calls are the calls service's.
type Store interface {
	FindAPIKey(ctx context.Context, id string) (dialq.APIKey, error)
	Ping(ctx context.Context) error
}

// Config tunes the API.
type Config struct {
	// DefaultWait is how long POST /call/outbound waits for the call's
	// outcome when the request does not say (?wait=seconds).
	DefaultWait time.Duration
	// MaxWait caps ?wait.
	MaxWait time.Duration
	// CacheTTL is how long API keys are cached: the longest a revoked key
	// still works.
	CacheTTL time.Duration
	// Monitoring serves Asynqmon at /monitoring when set.
	Monitoring *MonitoringConfig
	// LiveKitWebhooks verifies what livekit-server posts to
	// /livekit/webhook; without it that endpoint answers 503.
	LiveKitWebhooks LiveKitWebhooks
	// Webhooks serves the tenants' webhook endpoints; nil answers their
	// routes 503.
	Webhooks *webhooks.Service
	// Campaigns serves the campaigns and the do-not-call list; nil answers
	// their routes 503.
	Campaigns *campaigns.Service
	// MaxUploadBytes bounds the body of POST /campaigns, a campaign's
	// upload (DIALQ_MAX_UPLOAD_BYTES); a larger one is answered 413.
	// Default DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// UploadTimeout is how long POST /campaigns may take to read its body
	// and answer, in place of the server's request timeouts. Default
	// DefaultUploadTimeout.
	UploadTimeout time.Duration
	// StreamHeartbeat is how often a quiet event stream (GET
	// /call/{id}/events?stream=true) sends a comment line. Default 15 s.
	StreamHeartbeat time.Duration
	// MaxStream is the longest an event stream stays open; the client then
	// reconnects with Last-Event-ID. Default 1 h.
	MaxStream time.Duration
	// Health answers /readyz; nil checks Postgres (Store.Ping) and the
	// ready func New is given, as "redis".
	Health *health.Checker
	// Metrics counts every request and is served at /metrics; nil makes
	// one of the server's own.
	Metrics *metrics.Metrics
}

// Server is the HTTP API.
type Server struct {
	calls  *calls.Service
	store  Store
	log    *slog.Logger
	cfg    Config
	now    func() time.Time
	engine *gin.Engine
	keys   *ttlcache.Cache[[32]byte, uuid.UUID]
	// streams ends when EndStreams is called, and every event stream with it.
	streams    context.Context
	endStreams context.CancelFunc
}

// New returns the API over the calls service svc. ready, if set, is checked
// by /readyz besides Postgres, unless cfg.Health says what /readyz checks.
func New(svc *calls.Service, store Store, ready func(context.Context) error, log *slog.Logger, cfg Config) (*Server, error) {
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 60 * time.Second
	}
	if cfg.StreamHeartbeat <= 0 {
		cfg.StreamHeartbeat = 15 * time.Second
	}
	if cfg.MaxStream <= 0 {
		cfg.MaxStream = time.Hour
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = DefaultUploadTimeout
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Health == nil {
		var checks []health.Check
		if store != nil {
			checks = append(checks, health.Check{Name: "postgres", Run: store.Ping})
		}
		if ready != nil {
			checks = append(checks, health.Check{Name: "redis", Run: ready})
		}
		cfg.Health = health.New(log, 0, checks...)
	}
	s := &Server{calls: svc, store: store, log: log, cfg: cfg, now: time.Now}
	s.streams, s.endStreams = context.WithCancel(context.Background())
	s.keys = ttlcache.New[[32]byte, uuid.UUID](cfg.CacheTTL, 10000, s.now)

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Outermost, so it counts what the recovery answers a panic with.
	r.Use(s.countRequest)
	r.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		log.Error("handler panicked", "path", c.Request.URL.Path, "panic", err)
		writeError(c, log, dialq.Errorf(dialq.EINTERNAL, "Internal error."))
	}))
	// Every answer is JSON in one shape: no plain-text redirect from
	// /call/outbound/ to /call/outbound (a 307 a JSON client cannot read and
	// that re-sends the body); a path nobody serves is the JSON 404.
	r.RedirectTrailingSlash = false
	r.HandleMethodNotAllowed = true
	r.Use(s.refuseAmbiguousLength, s.limitBody)
	r.NoRoute(func(c *gin.Context) {
		writeError(c, log, dialq.Errorf(dialq.ENOTFOUND, "No such endpoint: %s %s.", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		// Gin has set the Allow header by now.
		writeError(c, log, dialq.Errorf(dialq.EMETHOD, "Method %s is not allowed on %s; allowed: %s.",
			c.Request.Method, c.Request.URL.Path, c.Writer.Header().Get("Allow")))
	})

	// The probes and the metrics are not authenticated: they carry no
	// tenant's data (docs/operations.md).
	r.GET("/healthz", gin.WrapF(health.Alive))
	r.GET("/readyz", gin.WrapH(cfg.Health))
	r.GET("/metrics", gin.WrapH(cfg.Metrics.Handler()))
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openAPISpec) })
	r.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIJSON) })
	r.POST(LiveKitWebhookPath, s.handleLiveKitWebhook)

	api := r.Group("/", s.authenticate)
	api.POST("/call/outbound", s.handleOutbound)
	api.GET("/calls", s.handleListCalls)
	api.GET("/call/:id", s.handleGetCall)
	api.GET("/call/:id/events", s.handleCallEvents)
	api.GET("/call/:id/webhooks", s.handleCallWebhooks)
	api.POST("/webhooks", s.handleCreateWebhook)
	api.GET("/webhooks", s.handleListWebhooks)
	api.DELETE("/webhooks/:id", s.handleDeleteWebhook)
	api.POST("/webhooks/:id/redeliver", s.handleRedeliverWebhook)
	s.campaignCreateRoutes(api)
	s.campaignControlRoutes(api)

	// The call's agent reports and hangs up with its report token.
	agent := r.Group("/", s.authenticateCallAgent)
	agent.POST("/call/:id/hangup", s.handleHangup)
	agent.POST("/call/:id/report", s.handleReport)

	if cfg.Monitoring != nil {
		if err := s.mountMonitoring(r, *cfg.Monitoring); err != nil {
			return nil, err
		}
	}
	s.engine = r
	return s, nil
}

// EndStreams closes every event stream, now and from now on: a shutting
// down server (http.Server.RegisterOnShutdown) does not wait an hour for
// them. Their clients reconnect, with Last-Event-ID, to another process.
func (s *Server) EndStreams() { s.endStreams() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// countRequest counts each request by its route's pattern (never the path
// as asked: it holds call ids) and the status it was answered with.
func (s *Server) countRequest(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.cfg.Metrics.ObserveRequest(c.Request.Method, c.FullPath(), c.Writer.Status(), time.Since(start))
}
