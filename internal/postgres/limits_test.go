package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestCallLimitsOfTrunksAndTenants: the limits saved on a trunk and on a
// tenant come back on them and as the limits of a call through the trunk,
// as they are when the call asks (not when it was accepted); bad ones are
// refused naming the field.
func TestCallLimitsOfTrunksAndTenants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := testenv.Postgres(t)
	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	tr := &dialq.Trunk{ID: "ST_lim", TenantID: tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_lim",
		CallLimits: dialq.CallLimits{MaxConcurrentCalls: 2, CallsPerSecond: 200.0 / 60}}
	require.NoError(t, db.SaveTrunk(ctx, tr))
	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: tr.ID,
		ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err := db.CreateCall(ctx, c)
	require.NoError(t, err)

	found, err := db.FindTrunk(ctx, tenant, tr.ID)
	require.NoError(t, err)
	require.Equal(t, tr.CallLimits, found.CallLimits)
	limits, err := db.LimitsOf(ctx, c)
	require.NoError(t, err)
	require.Equal(t, []dialq.Limit{{Key: "trunk:ST_lim", MaxConcurrent: 2, PerSecond: 200.0 / 60}}, limits,
		"the tenant caps nothing yet")

	require.NoError(t, db.SetTenantLimits(ctx, tenant, dialq.CallLimits{MaxConcurrentCalls: 5}))
	ten, err := db.FindTenant(ctx, tenant)
	require.NoError(t, err)
	require.Equal(t, dialq.CallLimits{MaxConcurrentCalls: 5}, ten.CallLimits)
	require.Equal(t, "t", ten.Name)
	limits, err = db.LimitsOf(ctx, c)
	require.NoError(t, err)
	require.Equal(t, []dialq.Limit{
		{Key: "trunk:ST_lim", MaxConcurrent: 2, PerSecond: 200.0 / 60},
		{Key: "tenant:" + tenant.String(), MaxConcurrent: 5},
	}, limits)

	require.NoError(t, db.DeleteTrunk(ctx, tenant, tr.ID))
	limits, err = db.LimitsOf(ctx, c)
	require.NoError(t, err)
	require.Equal(t, []dialq.Limit{{Key: "tenant:" + tenant.String(), MaxConcurrent: 5}}, limits, "a deleted trunk caps nothing")

	err = db.SetTenantLimits(ctx, tenant, dialq.CallLimits{MaxConcurrentCalls: -1, CallsPerSecond: 1e6})
	require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err))
	var fields []string
	for _, f := range err.(*dialq.Error).Fields {
		fields = append(fields, f.Field)
	}
	require.Equal(t, []string{"max_concurrent_calls", "calls_per_second"}, fields)
	bad := *tr
	bad.CallsPerSecond = -1
	require.Equal(t, dialq.EINVALID, dialq.ErrorCode(db.SaveTrunk(ctx, &bad)))
	require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(db.SetTenantLimits(ctx, uuid.New(), dialq.CallLimits{})))
}

// TestLiveCallsAndTheThrottledEvent: LiveCalls keeps the ids of calls not
// over; a queued call's timeline gets its throttled event once, and a call
// past queued none.
func TestLiveCallsAndTheThrottledEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	queued := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_exo",
		ToNumber: "+918044319240", Service: dialq.ServiceExotel, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err := db.CreateCall(ctx, queued)
	require.NoError(t, err)
	dialing := newExotelCall(t, db, tenant)
	over := newExotelCall(t, db, tenant)
	_, err = db.RecordFailed(ctx, over.ID, dialq.SIPFailure(486, "Busy Here", "Exotel"), time.Now())
	require.NoError(t, err)

	live, err := db.LiveCalls(ctx, []uuid.UUID{queued.ID, dialing.ID, over.ID, uuid.New()})
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{queued.ID, dialing.ID}, live)

	for range 3 {
		require.NoError(t, db.RecordThrottled(ctx, queued.ID, "waiting for a free line"))
		require.NoError(t, db.RecordThrottled(ctx, dialing.ID, "waiting for a free line"))
	}
	count := func(id uuid.UUID) int {
		ev, err := db.Events(ctx, id)
		require.NoError(t, err)
		n := 0
		for _, e := range ev {
			if e.Kind == "throttled" {
				n++
				require.Equal(t, "waiting for a free line", e.Detail)
				require.Empty(t, e.Status)
			}
		}
		return n
	}
	require.Equal(t, 1, count(queued.ID))
	require.Zero(t, count(dialing.ID))
	got, err := db.GetCall(ctx, queued.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusQueued, got.Status)
	require.Zero(t, got.Attempts)
}
