package sipbridge

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/background"
	"github.com/dialq/dialq/internal/dialq"
)

// OrphanStore closes the calls no worker vouches for.
type OrphanStore interface {
	CloseOrphanedBridged(ctx context.Context, staleBefore time.Time) ([]uuid.UUID, error)
}

// OrphansConfig configures an Orphans.
type OrphansConfig struct {
	Store  OrphanStore
	Notify Notifier
	Log    *slog.Logger
	// Interval is how often it looks for orphans. Default 10 s.
	Interval time.Duration
	// After is how long a call may go without any worker vouching for it
	// before it is closed as worker_lost. Default 6 × Interval: it must
	// span several heartbeats of the worker holding the call
	// (HeartbeatConfig.Interval), which the worker's own Interval is taken
	// to be.
	After time.Duration
	// Now is the clock After counts on: the one the store stamps the
	// heartbeats with. Default time.Now.
	Now func() time.Time
}

// Orphans closes, every Interval, the bridged calls that no worker has
// vouched for in After: the worker that held each died with it (its
// process was killed, its host lost). Each is recorded as failed with
// reason worker_lost, and announced. Any worker's Orphans closes any
// worker's calls.
type Orphans struct {
	cfg  OrphansConfig
	loop *background.Loop
}

// NewOrphans returns an orphan closer; Start starts it.
func NewOrphans(cfg OrphansConfig) *Orphans {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.After <= 0 {
		cfg.After = 6 * cfg.Interval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Orphans{cfg: cfg}
}

// Start closes orphans every Interval until Shutdown.
func (o *Orphans) Start() {
	o.loop = background.Start(o.cfg.Interval, func(ctx context.Context) {
		if _, err := o.CloseStale(ctx); err != nil && ctx.Err() == nil {
			o.cfg.Log.Warn("close orphaned bridged calls", "err", err)
		}
	})
}

// Shutdown stops the closer and returns once its goroutine has ended.
func (o *Orphans) Shutdown() { o.loop.Shutdown() }

// CloseStale closes once the calls nobody has vouched for in After, and
// returns their ids. It returns the store's error.
func (o *Orphans) CloseStale(ctx context.Context) ([]uuid.UUID, error) {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	ids, err := o.cfg.Store.CloseOrphanedBridged(wctx, o.cfg.Now().Add(-o.cfg.After))
	if err != nil {
		return nil, fmt.Errorf("close orphaned bridged calls: %w", err)
	}
	for _, id := range ids {
		o.cfg.Log.Warn("closed a bridged call whose worker went silent", "call_id", id, "after", o.cfg.After)
		nctx, cancel := context.WithTimeout(ctx, writeTimeout)
		if err := o.cfg.Notify.CallChanged(nctx, id, dialq.StatusFailed); err != nil {
			o.cfg.Log.Warn("announce call change", "call_id", id, "err", err)
		}
		cancel()
	}
	return ids, nil
}
