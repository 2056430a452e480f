package dialer

import (
	"context"
	"errors"
	"fmt"
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

// SweepStore lists calls that may have lost their task, and fails those
// that cannot be read.
type SweepStore interface {
	QueuedBefore(ctx context.Context, t time.Time, limit int) ([]uuid.UUID, error)
	GetCall(ctx context.Context, id uuid.UUID) (*dialq.Call, error)
	RecordFailed(ctx context.Context, id uuid.UUID, f dialq.Failure, at time.Time) (bool, error)
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
// many it looked at. A call whose row cannot be read is failed
// (internal_error) and the sweep goes on: left queued, it would come first
// on every pass and no lost call after it would be found again. Any other
// error ends the pass; the next one tries again.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	ids, err := s.Store.QueuedBefore(ctx, s.Now().Add(-s.Age), 500)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		c, err := s.Store.GetCall(ctx, id)
		if errors.Is(err, dialq.ErrUnreadableCall) {
			if err := s.failUnreadable(ctx, id, err); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := s.Enqueue.EnqueueDial(ctx, c); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// failUnreadable fails a call whose row cannot be read, so that it leaves
// the queued calls for good.
func (s *Sweeper) failUnreadable(ctx context.Context, id uuid.UUID, cause error) error {
	s.Log.Error("queued call cannot be read; failing it", "call_id", id, "err", cause)
	f := dialq.Failure{Reason: dialq.ReasonInternal, Message: "the stored call cannot be read, so it was never dialed"}
	if _, err := s.Store.RecordFailed(ctx, id, f, s.Now()); err != nil {
		return fmt.Errorf("fail unreadable call %s: %w", id, err)
	}
	return nil
}
