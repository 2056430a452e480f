// Package httpapi is dialq's HTTP API: POST /call/outbound, GET /call/{id},
// health probes and the Asynqmon dashboard, on Gin. Handlers stay thin:
// they authenticate, decode, call the calls service and encode.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialq"
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
}

// Server is the HTTP API.
type Server struct {
	calls  *calls.Service
	store  Store
	ready  func(context.Context) error
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
// by /readyz besides Postgres.
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
	s := &Server{calls: svc, store: store, ready: ready, log: log, cfg: cfg, now: time.Now}
	s.streams, s.endStreams = context.WithCancel(context.Background())
	s.keys = ttlcache.New[[32]byte, uuid.UUID](cfg.CacheTTL, 10000, s.now)

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
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

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.handleReady)
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

// handleReady is GET /readyz. Its caller is not authenticated, so the
// answer names each check and whether it passed; why one failed (addresses,
// driver errors) goes to the log only.
func (s *Server) handleReady(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := []readyCheck{{"postgres", s.store.Ping}}
	if s.ready != nil {
		checks = append(checks, readyCheck{"redis", s.ready})
	}
	results := make(map[string]string, len(checks))
	var failed []string
	for _, ch := range checks {
		if err := ch.run(ctx); err != nil {
			s.log.Warn("readiness check failed", "check", ch.name, "err", err)
			results[ch.name] = "unavailable"
			failed = append(failed, ch.name)
			continue
		}
		results[ch.name] = "ok"
	}
	if len(failed) > 0 {
		c.Header("Retry-After", "5")
		c.JSON(HTTPStatus(dialq.EUNAVAILABLE), errorBody{
			Message: "Not ready: " + strings.Join(failed, ", ") + " unavailable.",
			Error:   errorDetail{Code: dialq.EUNAVAILABLE},
			Data:    readiness{Status: "unavailable", Checks: results},
		})
		return
	}
	c.JSON(http.StatusOK, readiness{Status: "ready", Checks: results})
}

type readyCheck struct {
	name string
	run  func(context.Context) error
}

// readiness is the body of /readyz: each check by name, "ok" or
// "unavailable".
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}
