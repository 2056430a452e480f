package dialer

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/dialq"
)

// RetryDelay returns asynq's retry delay: base doubled per retry, capped at
// a minute, so a LiveKit blip is retried within seconds.
func RetryDelay(base time.Duration) asynq.RetryDelayFunc {
	return func(n int, _ error, _ *asynq.Task) time.Duration {
		d := time.Duration(float64(base) * math.Pow(2, float64(n)))
		return min(d, time.Minute)
	}
}

// SweepStore lists calls that may have lost their task.
type SweepStore interface {
	QueuedBefore(ctx context.Context, t time.Time, limit int) ([]uuid.UUID, error)
	GetCall(ctx context.Context, id uuid.UUID) (*dialq.Call, error)
}

// SweepEnqueuer re-enqueues a call; a task that still exists is left alone.
type SweepEnqueuer interface {
	EnqueueDial(ctx context.Context, c *dialq.Call) error
}

// Sweeper re-enqueues calls stored as queued whose task never reached Redis
// (an API process died between the insert and the enqueue). The call id is
// the TaskID, so a call whose task exists is never queued twice.
type Sweeper struct {
	Store   SweepStore
	Enqueue SweepEnqueuer
	Log     *slog.Logger
	Now     func() time.Time
	// Age is how long a call may sit queued before it is checked.
	Age time.Duration
}

// Run sweeps every interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil {
				s.Log.Warn("sweep queued calls", "err", err)
			}
		}
	}
}

// Sweep re-enqueues the calls queued for longer than Age and returns how
// many it looked at.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	ids, err := s.Store.QueuedBefore(ctx, s.Now().Add(-s.Age), 500)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		c, err := s.Store.GetCall(ctx, id)
		if err != nil {
			return 0, err
		}
		if err := s.Enqueue.EnqueueDial(ctx, c); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
