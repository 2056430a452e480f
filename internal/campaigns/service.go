// Package campaigns is dialq's campaigns service: a tenant's batch of
// contacts, created from JSON or a CSV upload (validated, deduplicated and
// checked against the tenant's do-not-call list as it streams in), then
// dialed by the scheduler in the workers through the calls service, paced,
// windowed in each callee's local time and retried by outcome; and the
// use cases that follow and control one (progress, export, pause, resume,
// cancel). The HTTP API, dialqctl and the tests call it.
package campaigns

import (
	"log/slog"
	"time"

	"github.com/dialq/dialq/internal/calls"
)

// Store is what the service reads and writes in Postgres.
type Store interface {
	createStore
	controlStore
}

// Config tunes the service.
type Config struct {
	// MaxUploads is how many uploads one process stages at once, each
	// holding a Postgres connection and transaction for as long as its
	// client sends (DIALQ_MAX_UPLOADS). Default DefaultMaxUploads.
	MaxUploads int
}

// DefaultMaxUploads is Config.MaxUploads's default.
const DefaultMaxUploads = 4

// Service is the campaigns service. Its methods are safe for concurrent use.
type Service struct {
	store Store
	calls *calls.Service
	log   *slog.Logger
	cfg   Config
	// Now is the clock.
	Now func() time.Time
	// uploads holds a token per upload in progress.
	uploads chan struct{}
}

// New returns the service over store, placing its calls through svc.
func New(store Store, svc *calls.Service, log *slog.Logger, cfg Config) *Service {
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = DefaultMaxUploads
	}
	return &Service{store: store, calls: svc, log: log, cfg: cfg, Now: time.Now, uploads: make(chan struct{}, cfg.MaxUploads)}
}
