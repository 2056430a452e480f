package webhooks

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dialq/dialq/internal/background"
	"github.com/dialq/dialq/internal/postgres"
)

// SweepStore lists the deliveries whose task may have been lost.
type SweepStore interface {
	OverdueWebhookDeliveries(ctx context.Context, dueBefore, now time.Time, limit int) ([]postgres.DueWebhook, error)
}

// SweeperConfig configures a Sweeper.
type SweeperConfig struct {
	Store   SweepStore
	Enqueue Enqueuer
	Log     *slog.Logger
	// Age is how long past its time a delivery nobody holds may wait before
	// it is enqueued again. Default 30 s: the dispatcher enqueues within
	// milliseconds, a retry is scheduled in Redis at its time.
	Age time.Duration
	// Interval is how often it sweeps. Default Age/2.
	Interval time.Duration
	// Now is the clock Age counts on. Default time.Now.
	Now func() time.Time
}

// Sweeper is the background service that enqueues again, every Interval,
// the pending deliveries overdue by Age that no worker holds and that wait
// for no earlier one: their notification was missed (no worker listened,
// Redis was down) or their task lost. Several workers may sweep at once:
// the TaskID of a sweep's attempt is the same in each, and the delivery is
// claimed in Postgres before it is sent, so it goes out once.
type Sweeper struct {
	cfg  SweeperConfig
	loop *background.Loop
}

// NewSweeper returns a sweeper; Start starts it.
func NewSweeper(cfg SweeperConfig) *Sweeper {
	if cfg.Age <= 0 {
		cfg.Age = 30 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = cfg.Age / 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Sweeper{cfg: cfg}
}

// Start sweeps every Interval until Shutdown.
func (s *Sweeper) Start() {
	s.loop = background.Start(s.cfg.Interval, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Interval)
		defer cancel()
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("sweep webhook deliveries", "err", err)
		}
	})
}

// Shutdown stops the sweeper and returns once its goroutine has ended.
func (s *Sweeper) Shutdown() { s.loop.Shutdown() }

// Sweep enqueues the overdue deliveries and returns how many it enqueued.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	due, err := s.cfg.Store.OverdueWebhookDeliveries(ctx, now.Add(-s.cfg.Age), now, 500)
	if err != nil {
		return 0, err
	}
	for i, d := range due {
		// Its time is past: the task runs at once.
		if err := s.cfg.Enqueue.EnqueueDelivery(ctx, d.ID, "sweep", stamp(d.NextAttemptAt), d.NextAttemptAt); err != nil {
			return i, fmt.Errorf("re-enqueue webhook delivery %d: %w", d.ID, err)
		}
	}
	return len(due), nil
}
