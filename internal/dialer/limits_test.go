package dialer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/limiter"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// These tests hold the rig's call under limits of the real limiter, on the
// stack's Redis under a prefix of their own; the limits come from a source
// at the dialer's seam, as the store's and the campaigns' do.

// fixedLimits is a LimitSource naming the same limits for every call.
type fixedLimits []dialq.Limit

func (f fixedLimits) LimitsOf(context.Context, *dialq.Call) ([]dialq.Limit, error) { return f, nil }

// newLimitedRig is newRig with its dialer holding calls under limits.
func newLimitedRig(t *testing.T, limits ...dialq.Limit) (*rig, *limiter.Limiter) {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Name("lim_") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	l := limiter.New(rdb, limiter.Config{Prefix: prefix})
	r := newRig(t, dialq.ServiceTwilio)
	r.line.dialed = dialq.Dialed{Answered: &phone}
	r.dialer.Limiter, r.dialer.Limits = l, []dialer.LimitSource{fixedLimits(limits)}
	return r, l
}

func holdersOf(t *testing.T, l *limiter.Limiter, key string) int {
	t.Helper()
	n, err := l.Holders(context.Background(), key)
	require.NoError(t, err)
	return n
}

// TestThrottledCallIsRescheduledWithoutAnAttempt: a call whose trunk has
// no free line is handed back to asynq as throttled, which asynq does not
// count as a failure, to ask again in about a second; nothing is written to
// it but, once, why it waits. Once the line is free it is dialed.
func TestThrottledCallIsRescheduledWithoutAnAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	trunk := dialq.Limit{Key: "trunk:ST_test", MaxConcurrent: 1}
	r, l := newLimitedRig(t, trunk)
	other := uuid.Must(uuid.NewV7())
	a, err := l.Acquire(ctx, other, []dialq.Limit{trunk}, time.Minute)
	require.NoError(t, err)
	require.True(t, a.OK)

	for range 2 {
		c, err := r.attempt(ctx, true)
		var te *dialer.ThrottledError
		require.ErrorAs(t, err, &te)
		require.Equal(t, trunk, te.Limit)
		require.True(t, te.Full)
		require.Equal(t, time.Second, te.RetryAfter)
		require.False(t, dialer.IsFailure(err), "asynq does not count it a failure")
		delay := dialer.RetryDelay(time.Second)(0, err, nil)
		require.GreaterOrEqual(t, delay, time.Second)
		require.LessOrEqual(t, delay, 1100*time.Millisecond, "its retry-after and a little jitter")
		require.Equal(t, dialq.StatusQueued, c.Status)
	}
	require.Equal(t, []string{"GetCall", "RecordThrottled", "GetCall"}, r.j.take(),
		"no attempt counted, nothing made; why it waits is told once")
	require.Equal(t, []string{"waiting for a free line: trunk ST_test allows 1 concurrent calls and all are in use"}, r.store.throttled)
	require.Zero(t, r.store.row.Attempts)
	require.Equal(t, dialq.StatusQueued, r.store.row.Status)
	require.Empty(t, r.store.row.LastError)

	require.NoError(t, l.Release(ctx, other))
	c, err := r.attempt(ctx, true)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusAnswered, c.Status)
	require.Equal(t, steps([]string{"GetCall"}, steps(firstDial, "RecordAnswered", "notify:answered")...), r.j.take())
	require.Equal(t, 1, r.store.row.Attempts)
	require.Equal(t, 1, holdersOf(t, l, trunk.Key), "the call holds the line until it ends")
}

// TestPacedCallWaitsForItsTurn: under calls per second, a call whose turn
// is near waits for it in the task and is dialed then; one whose turn is
// far is handed back to asynq with its turn as the retry-after.
func TestPacedCallWaitsForItsTurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("near", func(t *testing.T) {
		t.Parallel()
		trunk := dialq.Limit{Key: "trunk:ST_test", PerSecond: 4}
		r, l := newLimitedRig(t, trunk)
		a, err := l.Acquire(ctx, uuid.Must(uuid.NewV7()), []dialq.Limit{trunk}, time.Minute)
		require.NoError(t, err)
		require.True(t, a.OK)
		start := time.Now()
		c, err := r.attempt(ctx, true)
		require.NoError(t, err)
		waited := time.Since(start)
		t.Logf("waited %s for a turn 250 ms away", waited)
		require.GreaterOrEqual(t, waited, 240*time.Millisecond)
		require.Less(t, waited, time.Second)
		require.Equal(t, dialq.StatusAnswered, c.Status)
		require.Empty(t, r.store.throttled, "a wait this short is not worth a timeline event")
	})
	t.Run("far", func(t *testing.T) {
		t.Parallel()
		trunk := dialq.Limit{Key: "trunk:ST_test", PerSecond: 0.05} // one call per 20 s
		r, l := newLimitedRig(t, trunk)
		a, err := l.Acquire(ctx, uuid.Must(uuid.NewV7()), []dialq.Limit{trunk}, time.Minute)
		require.NoError(t, err)
		require.True(t, a.OK)
		_, err = r.attempt(ctx, true)
		var te *dialer.ThrottledError
		require.ErrorAs(t, err, &te)
		require.False(t, te.Full)
		require.InDelta(t, 20*time.Second, te.RetryAfter, float64(50*time.Millisecond))
		require.Equal(t, []string{"GetCall", "RecordThrottled"}, r.j.take())
		require.Contains(t, r.store.throttled[0], "trunk ST_test allows 0.05 calls per second")
	})
}

// TestDialedCallKeepsItsSlot: a call an earlier attempt left dialing (its
// worker died) is followed, not held back, even when its line was taken
// meanwhile: it takes its slot back, and the count shows both calls.
func TestDialedCallKeepsItsSlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	trunk := dialq.Limit{Key: "trunk:ST_test", MaxConcurrent: 1, PerSecond: 0.01}
	r, l := newLimitedRig(t, trunk)
	r.store.row.Status = dialq.StatusDialing
	r.store.row.RoomName, r.store.row.DispatchID, r.store.row.DispatchState = "room", "AD_1", dialq.DispatchRunning
	a, err := l.Acquire(ctx, uuid.Must(uuid.NewV7()), []dialq.Limit{trunk}, time.Minute)
	require.NoError(t, err)
	require.True(t, a.OK)

	r.line.recovered, r.line.found = dialq.Dialed{Answered: &phone}, true
	c, err := r.attempt(ctx, true)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusAnswered, c.Status)
	require.Equal(t, []string{"GetCall", "StartAttempt", "Recover", "RecordAnswered", "notify:answered"}, r.j.take())
	require.Zero(t, r.line.dials, "never dialed again")
	require.Equal(t, 2, holdersOf(t, l, trunk.Key))
}

// TestLastRetryHeldBack: on its task's last run a held-back call waits in
// the task while the deadline leaves time to ring, and is dialed if a line
// frees; else it is failed, never dialed, rather than left queued with its
// task archived.
func TestLastRetryHeldBack(t *testing.T) {
	t.Parallel()
	trunk := dialq.Limit{Key: "trunk:ST_test", MaxConcurrent: 1}
	need := ringTimeout + dialq.DialMargin
	t.Run("no time left", func(t *testing.T) {
		t.Parallel()
		r, l := newLimitedRig(t, trunk)
		_, err := l.Acquire(context.Background(), uuid.Must(uuid.NewV7()), []dialq.Limit{trunk}, time.Minute)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), need+500*time.Millisecond)
		defer cancel()
		c, err := r.attempt(ctx, false)
		requireOutcome(t, taskSkip, err)
		require.Equal(t, []string{"GetCall", "RecordFailed", "notify:failed"}, r.j.take())
		requireRow(t, r, c, dialq.StatusFailed, dialq.ReasonInternal, 0)
		require.Contains(t, r.store.row.LastError, "not dialed")
		require.Contains(t, r.store.row.LastError, "a free line of trunk ST_test")
		require.Zero(t, r.line.dials)
	})
	t.Run("a line frees in time", func(t *testing.T) {
		t.Parallel()
		r, l := newLimitedRig(t, trunk)
		r.dialer.ThrottleRetry = 100 * time.Millisecond
		heldBack := make(chan struct{}, 1)
		r.dialer.Limiter = &signalingLimiter{Limiter: l, heldBack: heldBack}
		other := uuid.Must(uuid.NewV7())
		_, err := l.Acquire(context.Background(), other, []dialq.Limit{trunk}, time.Minute)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), need+2*time.Second)
		defer cancel()
		freed := make(chan error, 1)
		go func() {
			// The other call ends once this one waits.
			<-heldBack
			freed <- l.Release(context.Background(), other)
		}()
		c, err := r.attempt(ctx, false)
		require.NoError(t, <-freed)
		require.NoError(t, err)
		require.Equal(t, dialq.StatusAnswered, c.Status)
		require.Equal(t, 1, r.line.dials)
		require.Equal(t, []string{"GetCall", "StartAttempt"}, r.j.take()[:2], "waited in the task, not throttled")
	})
}

// signalingLimiter tells heldBack when an Acquire is held back.
type signalingLimiter struct {
	dialer.Limiter
	heldBack chan struct{}
}

func (s *signalingLimiter) Acquire(ctx context.Context, id uuid.UUID, limits []dialq.Limit, lease time.Duration) (dialq.Admission, error) {
	a, err := s.Limiter.Acquire(ctx, id, limits, lease)
	if err == nil && !a.OK {
		select {
		case s.heldBack <- struct{}{}:
		default:
		}
	}
	return a, err
}

// TestCallOverSinceItWasReadFreesItsSlot: a call canceled between the read
// its limits were acquired with and its attempt gives its slot back: the
// cancel's message may have been heard before the slot was taken.
func TestCallOverSinceItWasReadFreesItsSlot(t *testing.T) {
	t.Parallel()
	trunk := dialq.Limit{Key: "trunk:ST_test", MaxConcurrent: 1}
	r, l := newLimitedRig(t, trunk)
	r.store.beforeStart = func(c *dialq.Call) { c.Status = dialq.StatusCanceled }
	c, err := r.attempt(context.Background(), true)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusCanceled, c.Status)
	require.Equal(t, []string{"GetCall", "StartAttempt"}, r.j.take())
	require.Zero(t, holdersOf(t, l, trunk.Key))
}

// TestIsFailureAndRetryDelay: only a throttled dial is not a failure, and
// only its delay is its own.
func TestIsFailureAndRetryDelay(t *testing.T) {
	t.Parallel()
	throttled := &dialer.ThrottledError{Limit: dialq.Limit{Key: "trunk:ST_a", PerSecond: 0.1}, RetryAfter: 10 * time.Second}
	wrapped := errors.Join(errors.New("attempt"), throttled)
	delay := dialer.RetryDelay(time.Second)
	for _, err := range []error{throttled, wrapped} {
		require.False(t, dialer.IsFailure(err))
		d := delay(5, err, nil)
		require.GreaterOrEqual(t, d, 10*time.Second)
		require.LessOrEqual(t, d, 10*time.Second+200*time.Millisecond)
	}
	require.True(t, dialer.IsFailure(errors.New("LiveKit is down")))
	require.False(t, dialer.IsFailure(nil))
	require.Equal(t, 4*time.Second, delay(2, errors.New("LiveKit is down"), nil))
	require.Equal(t, "throttled: paced by trunk ST_a; asking again in 10s", throttled.Error())
}
