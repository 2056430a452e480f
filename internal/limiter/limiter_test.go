package limiter_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/limiter"
	"github.com/dialq/dialq/internal/testkit/testclock"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// These tests run against the stack's Redis, each under a prefix of its
// own; with a testclock where time is moved by the test, and on Redis's
// own clock where pacing is measured in real time.

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const lease = time.Minute

// newLimiter returns a limiter under a fresh prefix, on clock (nil: Redis's
// TIME), its client and its prefix. Its keys are deleted after the test.
func newLimiter(t *testing.T, clock *testclock.Clock) (*limiter.Limiter, *redis.Client, string) {
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
	cfg := limiter.Config{Prefix: prefix}
	if clock != nil {
		cfg.Now = clock.Now
	}
	return limiter.New(rdb, cfg), rdb, prefix
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func acquire(t *testing.T, l *limiter.Limiter, id uuid.UUID, limits ...dialq.Limit) dialq.Admission {
	t.Helper()
	a, err := l.Acquire(context.Background(), id, limits, lease)
	require.NoError(t, err)
	return a
}

func holders(t *testing.T, l *limiter.Limiter, key string) int {
	t.Helper()
	n, err := l.Holders(context.Background(), key)
	require.NoError(t, err)
	return n
}

func peak(t *testing.T, l *limiter.Limiter, key string) int {
	t.Helper()
	n, err := l.Peak(context.Background(), key)
	require.NoError(t, err)
	return n
}

// TestSemaphoreAcquireAndRelease: a key with two slots takes two calls;
// the third is held back, Full, by that key (First only the first time),
// and goes once a slot is released.
func TestSemaphoreAcquireAndRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _, _ := newLimiter(t, nil)
	trunk := dialq.Limit{Key: "trunk:ST_a", MaxConcurrent: 2}
	a, b, c := newID(), newID(), newID()

	require.True(t, acquire(t, l, a, trunk).OK)
	require.True(t, acquire(t, l, b, trunk).OK)
	got := acquire(t, l, c, trunk)
	require.Equal(t, dialq.Admission{By: trunk, Full: true, First: true}, got)
	got = acquire(t, l, c, trunk)
	require.Equal(t, dialq.Admission{By: trunk, Full: true}, got, "held back again: not the first time")
	require.Equal(t, 2, holders(t, l, trunk.Key))

	require.NoError(t, l.Release(ctx, a))
	require.NoError(t, l.Release(ctx, a), "releasing twice is harmless")
	require.Equal(t, 1, holders(t, l, trunk.Key))
	require.True(t, acquire(t, l, c, trunk).OK)
	require.Equal(t, 2, holders(t, l, trunk.Key))
	require.Equal(t, 2, peak(t, l, trunk.Key))

	// No limits, or limits that cap nothing, take nothing.
	require.True(t, acquire(t, l, newID()).OK)
	require.True(t, acquire(t, l, newID(), dialq.Limit{Key: "tenant:x"}).OK)
}

// TestAcquireIsIdempotent: a call asking again (a retried task) keeps the
// slot it holds and takes no second.
func TestAcquireIsIdempotent(t *testing.T) {
	t.Parallel()
	l, _, _ := newLimiter(t, nil)
	trunk := dialq.Limit{Key: "trunk:ST_a", MaxConcurrent: 2}
	a := newID()
	for range 3 {
		require.True(t, acquire(t, l, a, trunk).OK)
	}
	require.Equal(t, 1, holders(t, l, trunk.Key))
	require.Equal(t, 1, peak(t, l, trunk.Key))
	require.True(t, acquire(t, l, newID(), trunk).OK, "the second slot is still free")
	require.False(t, acquire(t, l, newID(), trunk).OK)
	require.True(t, acquire(t, l, a, trunk).OK, "a holder asking again while full keeps its slot")
}

// TestAcquireIsAllOrNothing: a call held back by one of its keys takes
// nothing of the others, neither a slot nor a turn.
func TestAcquireIsAllOrNothing(t *testing.T) {
	t.Parallel()
	l, _, _ := newLimiter(t, nil)
	tenant := dialq.Limit{Key: "tenant:t1", MaxConcurrent: 2}
	trunk := func(id string) dialq.Limit { return dialq.Limit{Key: "trunk:" + id, MaxConcurrent: 1} }
	paced := dialq.Limit{Key: "trunk:ST_paced", PerSecond: 0.01} // one call per 100 s

	require.True(t, acquire(t, l, newID(), trunk("ST_1"), tenant).OK)
	require.True(t, acquire(t, l, newID(), trunk("ST_2"), tenant).OK)
	got := acquire(t, l, newID(), trunk("ST_3"), paced, tenant)
	require.False(t, got.OK)
	require.True(t, got.Full)
	require.Equal(t, tenant, got.By)
	require.Zero(t, holders(t, l, "trunk:ST_3"), "no slot of the trunk taken")
	require.True(t, acquire(t, l, newID(), paced).OK, "nor the paced trunk's turn")

	// Two limits of one key count as the stricter.
	dup := newID()
	got = acquire(t, l, dup, dialq.Limit{Key: "trunk:ST_1", MaxConcurrent: 5}, trunk("ST_1"))
	require.True(t, got.Full, "ST_1 allows 1, held already")
}

// TestLeaseExpiryFreesASlot: a call whose end is never seen (its worker
// died, every message lost) holds its slot until its lease ends, not for
// ever.
func TestLeaseExpiryFreesASlot(t *testing.T) {
	t.Parallel()
	clock := testclock.New(t0)
	l, _, _ := newLimiter(t, clock)
	trunk := dialq.Limit{Key: "trunk:ST_a", MaxConcurrent: 1}
	ctx := context.Background()
	lost := newID()
	_, err := l.Acquire(ctx, lost, []dialq.Limit{trunk}, 10*time.Second)
	require.NoError(t, err)

	clock.Advance(9 * time.Second)
	require.True(t, acquire(t, l, newID(), trunk).Full)
	require.True(t, acquire(t, l, lost, trunk).OK, "asking again renews the lease")
	clock.Advance(9 * time.Second)
	require.True(t, acquire(t, l, newID(), trunk).Full)
	clock.Advance(time.Minute + time.Second)
	require.Equal(t, 0, holders(t, l, trunk.Key))
	require.True(t, acquire(t, l, newID(), trunk).OK)
	require.Equal(t, 1, peak(t, l, trunk.Key))
}

// TestPacingGivesEachCallItsTurn: calls that ask at once under a rate of r
// are given turns 1/r apart, in the order they asked, the first at once; a
// call asking again before its turn keeps it, and at its turn it goes.
func TestPacingGivesEachCallItsTurn(t *testing.T) {
	t.Parallel()
	clock := testclock.New(t0)
	l, _, _ := newLimiter(t, clock)
	exotel := dialq.Limit{Key: "trunk:ST_exotel", PerSecond: 200.0 / 60} // 200 a minute: 300 ms apart

	var ids []uuid.UUID
	for k := range 5 {
		id := newID()
		ids = append(ids, id)
		got := acquire(t, l, id, exotel)
		if k == 0 {
			require.True(t, got.OK)
			continue
		}
		require.False(t, got.OK)
		require.False(t, got.Full)
		require.True(t, got.First)
		require.Equal(t, exotel, got.By)
		require.Equal(t, time.Duration(k)*300*time.Millisecond, got.Wait, "call %d", k)
	}
	clock.Advance(500 * time.Millisecond)
	got := acquire(t, l, ids[2], exotel)
	require.Equal(t, 100*time.Millisecond, got.Wait, "asking early keeps the turn")
	require.False(t, got.First)
	clock.Advance(100 * time.Millisecond)
	require.True(t, acquire(t, l, ids[2], exotel).OK, "at its turn it goes")
	require.True(t, acquire(t, l, ids[1], exotel).OK, "a turn passed is still taken (within the grace)")
	require.Equal(t, 900*time.Millisecond, acquire(t, l, newID(), exotel).Wait, "a newcomer is after the last turn given")
}

// TestPacingRateOverAMinute: a caller that dials as soon as it may, under
// 200 calls a minute, dials 200 in a minute of its clock: the turns are
// exact, fractions of a second included.
func TestPacingRateOverAMinute(t *testing.T) {
	t.Parallel()
	clock := testclock.New(t0)
	l, _, _ := newLimiter(t, clock)
	exotel := dialq.Limit{Key: "trunk:ST_exotel", PerSecond: 200.0 / 60}
	dialed := 0
	for clock.Now().Before(t0.Add(time.Minute)) {
		id := newID()
		got := acquire(t, l, id, exotel)
		if !got.OK {
			clock.Advance(got.Wait)
			if !clock.Now().Before(t0.Add(time.Minute)) {
				break
			}
			require.True(t, acquire(t, l, id, exotel).OK)
		}
		dialed++
		require.Less(t, dialed, 1000, "bounded")
	}
	require.InDelta(t, 200, dialed, 1)
}

// TestPacingOnRedisClock measures, on Redis's own clock and in real time,
// three callers sharing 20 calls per second for a second: no second holds
// more than the rate's calls (and the one at its edge), and the count is
// the rate's.
func TestPacingOnRedisClock(t *testing.T) {
	t.Parallel()
	l, _, _ := newLimiter(t, nil)
	trunk := dialq.Limit{Key: "trunk:ST_twilio", PerSecond: 20}
	ctx := context.Background()
	start := time.Now()
	end := start.Add(time.Second)
	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for time.Now().Before(end) {
				id := newID()
				a, err := l.Acquire(ctx, id, []dialq.Limit{trunk}, lease)
				require.NoError(t, err)
				for !a.OK {
					// Pacing real time is what is measured here: the
					// caller comes back at the turn it was given.
					time.Sleep(a.Wait)
					a, err = l.Acquire(ctx, id, []dialq.Limit{trunk}, lease)
					require.NoError(t, err)
				}
				mu.Lock()
				grants = append(grants, time.Now())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(grants, func(a, b time.Time) int { return a.Compare(b) })
	var inWindow, busiest int
	minGap := time.Hour
	for i, g := range grants {
		if g.Before(end) {
			inWindow++
		}
		if i > 0 {
			minGap = min(minGap, g.Sub(grants[i-1]))
		}
		n := 0
		for _, h := range grants[i:] {
			if h.Sub(g) < time.Second {
				n++
			}
		}
		busiest = max(busiest, n)
	}
	rate := float64(len(grants)-1) / grants[len(grants)-1].Sub(grants[0]).Seconds()
	t.Logf("%d grants, %d in the first second, at most %d in any second, %.2f per second, closest two seen %s apart",
		len(grants), inWindow, busiest, rate, minGap)
	require.InDelta(t, 20, inWindow, 1, "one at once, then one per 50 ms")
	require.LessOrEqual(t, busiest, 21, "the turns are 50 ms apart: 20 in a second, 21 at its edges")
	require.InDelta(t, 20, rate, 1.5)
}

// TestPeakCounter: the peak is the most holders a key had at once, not
// the number now.
func TestPeakCounter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _, _ := newLimiter(t, nil)
	campaign := dialq.Limit{Key: "campaign:c1", MaxConcurrent: 5}
	require.Zero(t, peak(t, l, campaign.Key), "never held")
	var ids []uuid.UUID
	for range 3 {
		id := newID()
		ids = append(ids, id)
		require.True(t, acquire(t, l, id, campaign).OK)
	}
	require.NoError(t, l.Release(ctx, ids[0]))
	require.NoError(t, l.Release(ctx, ids[1]))
	require.True(t, acquire(t, l, newID(), campaign).OK)
	require.Equal(t, 2, holders(t, l, campaign.Key))
	require.Equal(t, 3, peak(t, l, campaign.Key))
}

// TestHoldKeepsADialedCall: a call already dialed takes its slot back
// whatever the count (it is live whether or not it holds one), once, and
// is never paced.
func TestHoldKeepsADialedCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(t0)
	l, _, _ := newLimiter(t, clock)
	trunk := dialq.Limit{Key: "trunk:ST_a", MaxConcurrent: 1, PerSecond: 1}
	recovered := newID()
	_, err := l.Acquire(ctx, recovered, []dialq.Limit{trunk}, time.Second)
	require.NoError(t, err)
	clock.Advance(2 * time.Second) // its lease ran out while its worker was dead
	require.True(t, acquire(t, l, newID(), trunk).OK, "another took the slot")

	for range 2 {
		require.NoError(t, l.Hold(ctx, recovered, []dialq.Limit{trunk}, lease))
	}
	require.Equal(t, 2, holders(t, l, trunk.Key), "both calls are live")
	require.Equal(t, 2, peak(t, l, trunk.Key), "and the peak says so")
	require.True(t, acquire(t, l, newID(), trunk).Full)
}

// TestReleaseFreesATurn: a paced call that ends before its turn (hung up
// while queued) leaves nothing behind.
func TestReleaseFreesATurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(t0)
	l, rdb, prefix := newLimiter(t, clock)
	trunk := dialq.Limit{Key: "trunk:ST_a", MaxConcurrent: 3, PerSecond: 1}
	require.True(t, acquire(t, l, newID(), trunk).OK)
	waiting := newID()
	got := acquire(t, l, waiting, trunk)
	require.Equal(t, time.Second, got.Wait)
	require.Equal(t, 2, holders(t, l, trunk.Key), "a paced call holds its slot until its turn")

	require.NoError(t, l.Release(ctx, waiting))
	require.Equal(t, 1, holders(t, l, trunk.Key))
	_, err := rdb.ZScore(ctx, prefix+"res:"+trunk.Key, waiting.String()).Result()
	require.ErrorIs(t, err, redis.Nil, "its turn is gone")
	n, err := rdb.Exists(ctx, prefix+"held:"+waiting.String(), prefix+"thr:"+waiting.String()).Result()
	require.NoError(t, err)
	require.Zero(t, n)
	got = acquire(t, l, waiting, trunk)
	require.True(t, got.First, "asking again after a release is a first time")
}

// TestPaceDialSpacesTheDials: calls that started their turn apart can
// reach their dials together (one's room took longer): the dials get turns
// of their own, as far apart, without touching the starts' turns.
func TestPaceDialSpacesTheDials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(t0)
	l, _, _ := newLimiter(t, clock)
	trunk := dialq.Limit{Key: "trunk:ST_twilio", MaxConcurrent: 5, PerSecond: 2}
	slow, fast := newID(), newID()
	require.True(t, acquire(t, l, slow, trunk).OK)
	require.Equal(t, 500*time.Millisecond, acquire(t, l, fast, trunk).Wait)
	clock.Advance(500 * time.Millisecond)
	require.True(t, acquire(t, l, fast, trunk).OK)

	// Both reach their dials now: slow's room took 500 ms, fast's none.
	a, err := l.PaceDial(ctx, fast, []dialq.Limit{trunk})
	require.NoError(t, err)
	require.True(t, a.OK)
	a, err = l.PaceDial(ctx, slow, []dialq.Limit{trunk})
	require.NoError(t, err)
	require.Equal(t, dialq.Admission{By: dialq.Limit{Key: trunk.Key, PerSecond: 2}, Wait: 500 * time.Millisecond}, a, "not First: the dial's wait is not a throttle")
	clock.Advance(500 * time.Millisecond)
	a, err = l.PaceDial(ctx, slow, []dialq.Limit{trunk})
	require.NoError(t, err)
	require.True(t, a.OK)

	require.True(t, acquire(t, l, newID(), trunk).OK, "the starts' turns are their own: the next is now")
	require.Equal(t, 3, holders(t, l, trunk.Key), "and PaceDial takes no slot")
}
