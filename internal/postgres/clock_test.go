package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/testkit/testclock"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestStoreTakesTimesFromItsClock: every time the store writes by itself
// (a row's created_at and updated_at, each event's at, the bridge's
// heartbeat, the end of an orphan) is its clock's, to the microsecond, not
// the database server's.
func TestStoreTakesTimesFromItsClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC))
	db, dsn := testenv.Postgres(t, postgres.WithClock(clock.Now))
	at := func(query string, args ...any) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, testenv.SQL(t, dsn,
			`SELECT to_char(`+query+` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, args...))
		require.NoError(t, err)
		return v
	}

	tenant := uuid.New()
	created := clock.Now()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	require.Equal(t, created, at(`(SELECT created_at FROM tenants WHERE id = $1)`, tenant))

	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_exo",
		ToNumber: "+918044319240", Service: dialq.ServiceExotel, Status: dialq.StatusQueued, CreatedAt: created}
	_, err := db.CreateCall(ctx, c)
	require.NoError(t, err)

	// Each step a second after the last; each is stamped with its second.
	// The first event, queued, is the call's creation.
	want := []time.Time{created}
	step := func(do func(now time.Time)) time.Time {
		now := clock.Advance(time.Second)
		do(now)
		want = append(want, now)
		return now
	}
	attempt := step(func(time.Time) {
		_, err := db.StartAttempt(ctx, c.ID)
		require.NoError(t, err)
	})
	got, err := db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, created, got.CreatedAt.UTC())
	require.Equal(t, attempt, got.UpdatedAt.UTC())

	step(func(now time.Time) { require.NoError(t, db.MarkDialing(ctx, c.ID, "phone-"+c.ToNumber, now)) })
	invite := step(func(time.Time) { require.NoError(t, db.RecordInviteSent(ctx, c.ID, "worker-a", "sip-1")) })
	require.Equal(t, invite, at(`(SELECT bridge_seen_at FROM calls WHERE id = $1)`, c.ID))
	step(func(time.Time) { require.NoError(t, db.RecordRinging(ctx, c.ID, 180, "Ringing")) })
	step(func(time.Time) {
		_, err := db.RequestHangup(ctx, c.ID, dialq.EndedByAPI, "hung up by API")
		require.NoError(t, err)
	})
	require.Equal(t, want[len(want)-1], at(`(SELECT hangup_requested_at FROM calls WHERE id = $1)`, c.ID))

	beat := clock.Advance(time.Second)
	n, _, err := db.TouchBridged(ctx, "worker-a", []uuid.UUID{c.ID})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Equal(t, beat, at(`(SELECT bridge_seen_at FROM calls WHERE id = $1)`, c.ID), "the heartbeat")

	lost := step(func(now time.Time) {
		ids, err := db.CloseOrphanedBridged(ctx, now.Add(-500*time.Millisecond))
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{c.ID}, ids)
	})
	got, err = db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, lost, got.UpdatedAt.UTC())
	require.Equal(t, lost, got.EndedAt.UTC())

	ev, err := db.Events(ctx, c.ID)
	require.NoError(t, err)
	var kinds []string
	var ats []time.Time
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
		ats = append(ats, e.At.UTC())
	}
	require.Equal(t, []string{"queued", "attempt", "dialing", "invite_sent", "ringing", "hangup_requested", "failed"}, kinds)
	require.Equal(t, want, ats)
}
