package limiter_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/limiter"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/testkit/testclock"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestJanitorFreesCallsOverInPostgres: calls whose end no worker heard of
// (over in Postgres, or with no row at all) lose their slots on the next
// sweep, live ones keep theirs, leases past their end go, and a key nobody
// holds is forgotten by the sweep after.
func TestJanitorFreesCallsOverInPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := testenv.Postgres(t)
	clock := testclock.New(t0)
	l, rdb, prefix := newLimiter(t, clock)
	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	newCall := func() *dialq.Call {
		c := &dialq.Call{ID: newID(), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_a",
			ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: time.Now()}
		_, err := db.CreateCall(ctx, c)
		require.NoError(t, err)
		return c
	}
	trunk := dialq.Limit{Key: "trunk:ST_a", MaxConcurrent: 10}
	other := dialq.Limit{Key: "trunk:ST_b", MaxConcurrent: 10}
	queued, dialing, over := newCall(), newCall(), newCall()
	require.NoError(t, db.MarkDialing(ctx, dialing.ID, "phone-x", time.Now()))
	ok, err := db.RecordFailed(ctx, over.ID, dialq.Failure{Reason: dialq.ReasonLiveKit, Message: "LiveKit is down"}, time.Now())
	require.True(t, ok)
	require.NoError(t, err)
	rowless := newID()
	for _, id := range []uuid.UUID{queued.ID, dialing.ID, over.ID, rowless} {
		require.True(t, acquire(t, l, id, trunk).OK)
	}
	require.True(t, acquire(t, l, over.ID, other).OK)
	expired := newCall()
	_, err = l.Acquire(ctx, expired.ID, []dialq.Limit{trunk}, time.Second)
	require.NoError(t, err)
	clock.Advance(2 * time.Second)

	j := limiter.NewJanitor(limiter.JanitorConfig{Limiter: l, Calls: db, Log: testenv.Logger(t)})
	freed, err := j.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, freed, "the call over and the one with no row")
	require.Equal(t, 2, holders(t, l, trunk.Key), "queued and dialing keep theirs; the expired lease is gone")
	require.Zero(t, holders(t, l, other.Key))

	freed, err = j.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, freed)
	keys, err := rdb.SMembers(ctx, prefix+"keys").Result()
	require.NoError(t, err)
	require.Equal(t, []string{trunk.Key}, keys, "ST_b, held by nobody since the last sweep, is forgotten")
	var _ limiter.LiveCalls = (*postgres.DB)(nil)
}
