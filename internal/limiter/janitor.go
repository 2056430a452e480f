package limiter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/background"
)

// LiveCalls says which calls are not over (queued or live): Postgres, the
// truth of every call's end.
type LiveCalls interface {
	LiveCalls(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error)
}

// JanitorConfig configures a Janitor.
type JanitorConfig struct {
	Limiter *Limiter
	Calls   LiveCalls
	Log     *slog.Logger
	// Interval is how often it sweeps (DIALQ_LIMIT_SWEEP_INTERVAL).
	// Default 30 s.
	Interval time.Duration
}

// Janitor frees, every Interval, the slots of calls that are over in
// Postgres but still hold some: the worker frees a call's slots when it
// hears the call ended, and pub/sub drops the messages that arrive while
// no worker listens (all restarting, a Redis failover). It also drops the
// leases past their end (the limiter's clock says when) and forgets the
// keys nobody holds. Lease expiry stays the last resort, for a Postgres
// that cannot be read.
type Janitor struct {
	cfg  JanitorConfig
	loop *background.Loop
}

// NewJanitor returns a janitor; Start starts it.
func NewJanitor(cfg JanitorConfig) *Janitor {
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Janitor{cfg: cfg}
}

// Start sweeps every Interval until Shutdown; a pass may take one
// Interval.
func (j *Janitor) Start() {
	j.loop = background.Start(j.cfg.Interval, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, j.cfg.Interval)
		defer cancel()
		if n, err := j.Sweep(ctx); err != nil && ctx.Err() == nil {
			j.cfg.Log.Warn("sweep call limits", "err", err)
		} else if n > 0 {
			j.cfg.Log.Info("freed the slots of calls over whose end no worker heard", "calls", n)
		}
	})
}

// Shutdown stops the janitor and returns once its goroutine has ended.
func (j *Janitor) Shutdown() { j.loop.Shutdown() }

// sweepBatch is how many calls one look-up in Postgres asks about.
const sweepBatch = 1000

// Sweep makes one pass: it lists the holders of every semaphore, asks
// Postgres which are live, in one statement per sweepBatch calls, and frees
// the others. It returns how many calls it freed. A Postgres that cannot
// be read frees nothing.
func (j *Janitor) Sweep(ctx context.Context) (int, error) {
	held, err := j.cfg.Limiter.holders(ctx)
	if err != nil {
		return 0, err
	}
	ids := make([]uuid.UUID, 0, len(held))
	for id := range held {
		ids = append(ids, id)
	}
	freed := 0
	for len(ids) > 0 {
		batch := ids[:min(len(ids), sweepBatch)]
		ids = ids[len(batch):]
		live, err := j.cfg.Calls.LiveCalls(ctx, batch)
		if err != nil {
			return freed, fmt.Errorf("sweep call limits: %w", err)
		}
		keep := make(map[uuid.UUID]bool, len(live))
		for _, id := range live {
			keep[id] = true
		}
		for _, id := range batch {
			if keep[id] {
				continue
			}
			if err := j.cfg.Limiter.release(ctx, id, held[id]); err != nil {
				return freed, err
			}
			j.cfg.Log.Debug("freed the slots of a call over", "call_id", id, "keys", held[id])
			freed++
		}
	}
	return freed, nil
}
