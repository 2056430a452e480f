package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/background"
	"github.com/dialq/dialq/internal/dialq"
)

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

// SweeperConfig configures a Sweeper.
type SweeperConfig struct {
	Store   SweepStore
	Enqueue SweepEnqueuer
	Log     *slog.Logger
	// Age is how long a call may sit queued before it is checked. Default
	// a minute: an enqueue takes milliseconds once the row is stored.
	Age time.Duration
	// Interval is how often it sweeps. Default Age/2.
	Interval time.Duration
	// Now is the clock Age counts on, against the calls' created_at (the
	// time the API that accepted each took). Default time.Now.
	Now func() time.Time
}

// Sweeper re-enqueues, every Interval, the calls stored as queued whose task
// never reached Redis (an API process died between the insert and the
// enqueue). The call id is the TaskID, so a call whose task exists is never
// queued twice.
type Sweeper struct {
	cfg  SweeperConfig
	loop *background.Loop
}

// NewSweeper returns a sweeper; Start starts it.
func NewSweeper(cfg SweeperConfig) *Sweeper {
	if cfg.Age <= 0 {
		cfg.Age = time.Minute
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

// Start sweeps every Interval until Shutdown. A pass may take up to one
// Interval; one that would take longer gives way to the next.
func (s *Sweeper) Start() {
	s.loop = background.Start(s.cfg.Interval, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Interval)
		defer cancel()
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("sweep queued calls", "err", err)
		}
	})
}

// Shutdown stops the sweeper and returns once its goroutine has ended.
func (s *Sweeper) Shutdown() { s.loop.Shutdown() }

// Sweep re-enqueues the calls queued for longer than Age and returns how
// many it looked at. A call whose row cannot be read is failed
// (internal_error) and the sweep goes on: left queued, it would come first
// on every pass and no lost call after it would be found again. Any other
// error ends the pass; the next one tries again.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	ids, err := s.cfg.Store.QueuedBefore(ctx, s.cfg.Now().Add(-s.cfg.Age), 500)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		c, err := s.cfg.Store.GetCall(ctx, id)
		if errors.Is(err, dialq.ErrUnreadableCall) {
			if err := s.failUnreadable(ctx, id, err); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := s.cfg.Enqueue.EnqueueDial(ctx, c); err != nil {
			return 0, fmt.Errorf("re-enqueue call %s: %w", id, err)
		}
	}
	return len(ids), nil
}

// failUnreadable fails a call whose row cannot be read, so that it leaves
// the queued calls for good.
func (s *Sweeper) failUnreadable(ctx context.Context, id uuid.UUID, cause error) error {
	s.cfg.Log.Error("queued call cannot be read; failing it", "call_id", id, "err", cause)
	f := dialq.Failure{Reason: dialq.ReasonInternal, Message: "the stored call cannot be read, so it was never dialed"}
	if _, err := s.cfg.Store.RecordFailed(ctx, id, f, s.cfg.Now()); err != nil {
		return fmt.Errorf("fail unreadable call %s: %w", id, err)
	}
	return nil
}
