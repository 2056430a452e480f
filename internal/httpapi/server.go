// Package httpapi is dialq's HTTP API: POST /call/outbound, GET /call/{id},
// health probes and the Asynqmon dashboard, on Gin. Handlers stay thin:
// they authenticate, decode and validate, store and enqueue, and wait.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/notify"
)

// Store is what the API reads and writes in Postgres.
type Store interface {
	FindAPIKey(ctx context.Context, id string) (dialq.APIKey, error)
	FindAssistant(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Assistant, error)
	FindTrunk(ctx context.Context, tenantID uuid.UUID, id string) (*dialq.Trunk, error)
	CreateCall(ctx context.Context, c *dialq.Call) (*dialq.Call, error)
	FindCall(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Call, error)
	Events(ctx context.Context, id uuid.UUID) ([]dialq.CallEvent, error)
	RecordFailed(ctx context.Context, id uuid.UUID, f dialq.Failure, at time.Time) (bool, error)
	RequestHangup(ctx context.Context, id uuid.UUID, reason string) (bool, error)
	Ping(ctx context.Context) error
}

// Enqueuer puts a call's dial task on the queue.
type Enqueuer interface {
	EnqueueDial(ctx context.Context, c *dialq.Call) error
}

// Watcher delivers call changes to a waiting request.
type Watcher interface {
	Watch(id uuid.UUID) *notify.Waiter
}

// Config tunes the API.
type Config struct {
	// DefaultWait is how long POST /call/outbound waits for the call's
	// outcome when the request does not say (?wait=seconds).
	DefaultWait time.Duration
	// MaxWait caps ?wait.
	MaxWait time.Duration
	// PollInterval is how often a waiting request re-reads the call from
	// Postgres in case a notification was lost.
	PollInterval time.Duration
	// CacheTTL is how long keys, assistants and trunks are cached: the
	// longest a revoked key still works or an edit takes to show.
	CacheTTL time.Duration
	// Monitoring serves Asynqmon at /monitoring when set.
	Monitoring *MonitoringConfig
	// Hangup tells the worker holding a bridged call to end it now, for
	// POST /call/{id}/hangup (Redis). The request is stored on the call
	// first, and the worker finds it on its next heartbeat (10 s) if the
	// message is lost, or if Hangup is nil.
	Hangup func(ctx context.Context, id uuid.UUID, reason string) error
	// HangupWait is how long POST /call/{id}/hangup waits to see the call
	// end before answering 202. Default 5 s.
	HangupWait time.Duration
}

// Server is the HTTP API.
type Server struct {
	store   Store
	enqueue Enqueuer
	watch   Watcher
	ready   func(context.Context) error
	log     *slog.Logger
	cfg     Config
	now     func() time.Time
	engine  *gin.Engine
	keys    *ttlCache[[32]byte, uuid.UUID]
	assist  *ttlCache[tenantKey, *dialq.Assistant]
	trunks  *ttlCache[tenantKey, *dialq.Trunk]
}

type tenantKey struct {
	tenant uuid.UUID
	id     string
}

// New returns the API. ready, if set, is checked by /readyz besides Postgres.
func New(store Store, enq Enqueuer, watch Watcher, ready func(context.Context) error, log *slog.Logger, cfg Config) (*Server, error) {
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 60 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.HangupWait == 0 {
		cfg.HangupWait = 5 * time.Second
	}
	s := &Server{store: store, enqueue: enq, watch: watch, ready: ready, log: log, cfg: cfg, now: time.Now}
	s.keys = newTTLCache[[32]byte, uuid.UUID](cfg.CacheTTL, 10000, s.now)
	s.assist = newTTLCache[tenantKey, *dialq.Assistant](cfg.CacheTTL, 10000, s.now)
	s.trunks = newTTLCache[tenantKey, *dialq.Trunk](cfg.CacheTTL, 10000, s.now)

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

	api := r.Group("/", s.authenticate)
	api.POST("/call/outbound", s.handleOutbound)
	api.GET("/call/:id", s.handleGetCall)
	api.POST("/call/:id/hangup", s.handleHangup)

	if cfg.Monitoring != nil {
		if err := s.mountMonitoring(r, *cfg.Monitoring); err != nil {
			return nil, err
		}
	}
	s.engine = r
	return s, nil
}

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
