package dialer

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/dialq"
)

// ThrottledError is the error of a dial its limits hold back: the call
// stays queued, with no attempt counted, and asynq runs the task again
// after RetryAfter (RetryDelay) without counting a failure (IsFailure), so
// a call may wait for its turn as long as it takes.
type ThrottledError struct {
	// Limit is the limit that holds the call back; Full says it has no
	// free slot, else the call is paced under its calls per second.
	Limit dialq.Limit
	Full  bool
	// RetryAfter is when the call asks again: its turn, or ThrottleRetry
	// for a full limit.
	RetryAfter time.Duration
}

// Error implements the error interface.
func (e *ThrottledError) Error() string {
	how := "paced by"
	if e.Full {
		how = "no free slot of"
	}
	return fmt.Sprintf("throttled: %s %s; asking again in %s", how, e.Limit, e.RetryAfter.Round(time.Millisecond))
}

// maxInlineWait is the longest a dial task waits for its turn itself,
// rather than hand the call back to asynq: asynq schedules retries to the
// whole second, so a call told to come back in 300 ms, or one back a
// little before its turn, would come at the next second and miss the pace.
// Only the calls whose turn is that close wait (a few per paced key), so
// few of the worker's task slots are held.
const maxInlineWait = 2 * time.Second

// leaseMargin is how long past the longest a call may last its slots are
// held: the time the end of a call whose worker died takes to be recorded
// (the orphan closer's six heartbeats, the reconciler's checks), after
// which the worker frees them on hearing it.
const leaseMargin = 2 * time.Minute

// admit holds c under its limits before it is dialed. A queued call takes
// a slot of each (or its turn, and waits here if the turn is near); one
// its limits hold back returns a *ThrottledError, its timeline told why the
// first time. A call an earlier attempt dialed (the worker died) keeps its
// slots, or takes them back whatever their count: it is live either way,
// and is never dialed again. On the task's last run (mayRetry false) a
// held-back call waits here while the task's deadline still leaves it time
// to ring, and is failed, never dialed, when it does not.
//
// It returns the limits c is held under.
func (d *Dialer) admit(ctx context.Context, log *slog.Logger, c *dialq.Call, mayRetry bool) ([]dialq.Limit, error) {
	var limits []dialq.Limit
	for _, src := range d.Limits {
		l, err := src.LimitsOf(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("read the limits of call %s: %w", c.ID, err)
		}
		limits = append(limits, l...)
	}
	if len(limits) == 0 {
		return nil, nil
	}
	lease := d.lease(c)
	if c.Status != dialq.StatusQueued {
		if err := d.Limiter.Hold(ctx, c.ID, limits, lease); err != nil {
			return nil, fmt.Errorf("hold the limits of dialed call %s: %w", c.ID, err)
		}
		return limits, nil
	}
	for {
		a, err := d.Limiter.Acquire(ctx, c.ID, limits, lease)
		if err != nil {
			return nil, fmt.Errorf("acquire the limits of call %s: %w", c.ID, err)
		}
		if a.OK {
			return limits, nil
		}
		wait := a.Wait
		if a.Full {
			wait = d.throttleRetry()
		}
		switch {
		case mayRetry && (a.Full || wait > maxInlineWait):
			return nil, d.throttled(ctx, log, c, a, wait)
		case !mayRetry && !d.fitsAfter(ctx, c, wait):
			return nil, d.throttledForGood(ctx, log, c, a)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// paceDial waits, before c's fresh dial, for its turn among the dials under
// its calls-per-second limits (Limiter.PaceDial): admit paced when the
// calls started, and their rooms and agents took them apart again by tens
// of ms to seconds. The calls come to it already spaced, so the wait is
// short; one that would cut into the ring time the task's deadline leaves
// is not waited (the call is dialed, and the miss logged).
func (d *Dialer) paceDial(ctx context.Context, log *slog.Logger, c *dialq.Call, limits []dialq.Limit) error {
	if d.Limiter == nil || !slices.ContainsFunc(limits, func(l dialq.Limit) bool { return l.PerSecond > 0 }) {
		return nil
	}
	for {
		a, err := d.Limiter.PaceDial(ctx, c.ID, limits)
		if err != nil {
			return fmt.Errorf("pace the dial of call %s: %w", c.ID, err)
		}
		if a.OK {
			return nil
		}
		if !d.fitsAfter(ctx, c, a.Wait) {
			log.Warn("no time left to wait for the dial's turn; dialing now", "limit", a.By.Key, "turn_in", a.Wait)
			return nil
		}
		log.Debug("waiting for the dial's turn", "limit", a.By.Key, "turn_in", a.Wait)
		if err := sleep(ctx, a.Wait); err != nil {
			return err
		}
	}
}

// sleep waits d, or until ctx ends and returns its error.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// throttled notes why c waits, on its timeline the first time, and
// returns the error that has asynq run its task again after wait.
func (d *Dialer) throttled(ctx context.Context, log *slog.Logger, c *dialq.Call, a dialq.Admission, wait time.Duration) error {
	if a.First {
		log.Info("call held back by its limits", "limit", a.By.Key, "full", a.Full, "retry_in", wait)
		if err := d.Store.RecordThrottled(ctx, c.ID, a.Reason()); err != nil {
			log.Warn("record throttled", "err", err)
		}
	} else {
		log.Debug("call still held back by its limits", "limit", a.By.Key, "full", a.Full, "retry_in", wait)
	}
	return &ThrottledError{Limit: a.By, Full: a.Full, RetryAfter: wait}
}

// throttledForGood fails c, never dialed: its limits held it back through
// its task's last run, and a throttled last run would be archived by
// asynq, leaving the call queued with no task.
func (d *Dialer) throttledForGood(ctx context.Context, log *slog.Logger, c *dialq.Call, a dialq.Admission) error {
	what := fmt.Sprintf("its turn under %s's %g calls per second", a.By, a.By.PerSecond)
	if a.Full {
		what = fmt.Sprintf("a free line of %s (%d concurrent calls, all in use)", a.By, a.By.MaxConcurrent)
	}
	f := dialq.Failure{Reason: dialq.ReasonInternal, Message: "not dialed: its dial task's last retry " +
		"(the others went to earlier failures) ran out of time waiting for " + what}
	log.Warn("call failed: held back by its limits on its last retry", "limit", a.By.Key)
	if _, err := d.Store.RecordFailed(context.WithoutCancel(ctx), c.ID, f, d.Now()); err != nil {
		return fmt.Errorf("record failure of call %s: %w", c.ID, err)
	}
	end := dialq.Failed(f)
	c.Status, c.FailureReason, c.EndedBy, c.EndReason, c.LastError = end.Status, f.Reason, end.By, end.Reason, f.Message
	d.changed(ctx, log, c.ID, end.Status)
	return fmt.Errorf("call %s held back by %s on its last retry: %w", c.ID, a.By, asynq.SkipRetry)
}

// fitsAfter reports whether c may still be dialed after waiting wait: the
// task's deadline leaves the time checkBudget asks for.
func (d *Dialer) fitsAfter(ctx context.Context, c *dialq.Call, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return true
	}
	need := d.joinWait(c) + c.Options.Ring(d.RingTimeout) + dialq.DialMargin
	return time.Until(deadline)-wait >= need
}

// lease is how long c's slots are held unless its end frees them: the
// longest it may last (the wait for its agent, the ring, its maximum
// duration) and leaseMargin.
func (d *Dialer) lease(c *dialq.Call) time.Duration {
	maxCall := d.MaxCallDuration
	if maxCall <= 0 {
		maxCall = time.Hour
	}
	return d.joinWait(c) + c.Options.Ring(d.RingTimeout) + c.Options.MaxCall(maxCall) + dialq.DialMargin + leaseMargin
}

func (d *Dialer) throttleRetry() time.Duration {
	if d.ThrottleRetry > 0 {
		return d.ThrottleRetry
	}
	return time.Second
}

// release frees what call id holds; a failure is logged, and the janitor
// frees it later.
func (d *Dialer) release(ctx context.Context, log *slog.Logger, id uuid.UUID) {
	if err := d.Limiter.Release(context.WithoutCancel(ctx), id); err != nil {
		log.Warn("free the slots of a call over", "err", err)
	}
}
