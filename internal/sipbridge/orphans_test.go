package sipbridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/testkit/testclock"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// newHeldCall stores an Exotel call whose INVITE worker sent, as a worker
// records it, at the store's clock.
func newHeldCall(t *testing.T, db *postgres.DB, worker string) *dialq.Call {
	t.Helper()
	ctx := context.Background()
	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_exo",
		ToNumber: callee, Service: dialq.ServiceExotel, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err := db.CreateCall(ctx, c)
	require.NoError(t, err)
	require.NoError(t, db.MarkDialing(ctx, c.ID, dialq.ParticipantIdentityFor(callee), time.Now()))
	require.NoError(t, db.RecordInviteSent(ctx, c.ID, worker, "sip-"+c.ID.String()))
	return c
}

// TestOrphansWaitAfter: a call nobody vouches for is closed as
// worker_lost, and announced, once After has passed on the clock since
// it was last vouched for, and not before.
func TestOrphansWaitAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC))
	db, _ := testenv.Postgres(t, postgres.WithClock(clock.Now))
	notes := newNotifier()
	orphans := sipbridge.NewOrphans(sipbridge.OrphansConfig{Store: db, Notify: notes, Log: testenv.Logger(t),
		After: time.Minute, Now: clock.Now})
	c := newHeldCall(t, db, "worker-dead")

	clock.Advance(time.Minute - time.Second)
	ids, err := orphans.CloseStale(ctx)
	require.NoError(t, err)
	require.Empty(t, ids, "vouched for less than After ago")

	clock.Advance(2 * time.Second)
	ids, err = orphans.CloseStale(ctx)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{c.ID}, ids)
	require.Equal(t, []dialq.CallStatus{dialq.StatusFailed}, notes.of(c.ID))
	got, err := db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.ReasonWorkerLost, got.FailureReason)
	require.Equal(t, clock.Now(), got.EndedAt.UTC(), "closed at the clock's time")
}

// TestOrphansStartAndShutdown: once started, the closer looks every
// Interval by itself; Shutdown stops it.
func TestOrphansStartAndShutdown(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now())
	db, _ := testenv.Postgres(t, postgres.WithClock(clock.Now))
	notes := newNotifier()
	c := newHeldCall(t, db, "worker-dead")
	clock.Advance(time.Hour)

	orphans := sipbridge.NewOrphans(sipbridge.OrphansConfig{Store: db, Notify: notes, Log: testenv.Logger(t),
		Interval: 10 * time.Millisecond, After: time.Minute, Now: clock.Now})
	orphans.Start()
	notes.await(t, c.ID, dialq.StatusFailed)
	orphans.Shutdown()
	orphans.Shutdown() // a second time changes nothing
}
