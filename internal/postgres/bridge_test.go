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

// newBridgeStore returns a store of its own, opened with opts, with a tenant
// in it.
func newBridgeStore(t *testing.T, opts ...postgres.Option) (*postgres.DB, uuid.UUID) {
	t.Helper()
	db, _ := testenv.Postgres(t, opts...)
	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(context.Background(), &dialq.Tenant{ID: tenant, Name: "t"}))
	return db, tenant
}

// newExotelCall stores an Exotel call of tenant, marked dialing.
func newExotelCall(t *testing.T, db *postgres.DB, tenant uuid.UUID) *dialq.Call {
	t.Helper()
	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_exo",
		ToNumber: "+918044319240", Service: dialq.ServiceExotel, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err := db.CreateCall(context.Background(), c)
	require.NoError(t, err)
	require.NoError(t, db.MarkDialing(context.Background(), c.ID, "phone-"+c.ToNumber, time.Now()))
	return c
}

// TestBridgedCallLifecycle: a bridged call is placed once the INVITE is
// out, rings, is answered and completes; nothing moves it after its end.
func TestBridgedCallLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	c := newExotelCall(t, db, tenant)

	got, err := db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.False(t, got.Placed(), "dialing, INVITE not out yet")

	require.NoError(t, db.RecordInviteSent(ctx, c.ID, "worker-a", "sip-call-1"))
	require.NoError(t, db.RecordRinging(ctx, c.ID, 180, "Ringing"))
	got, err = db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusRinging, got.Status)
	require.Equal(t, "sip-call-1", got.SIPCallID)
	require.True(t, got.Placed(), "the INVITE is out: a waiting request answers")

	ok, err := db.RecordAnswered(ctx, c.ID, dialq.Participant{SID: "PA_1", Identity: "phone-+918044319240", SIPCallID: "sip-call-1"}, time.Now())
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, db.RecordBridgeEvent(ctx, c.ID, "hold", "a=sendonly"))

	ok, err = db.RecordEnded(ctx, c.ID, dialq.Completed(dialq.EndedByPhone, "phone hung up"), time.Now())
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = db.RecordFailed(ctx, c.ID, dialq.Failure{Reason: dialq.ReasonWorkerShutdown, Message: "late"}, time.Now())
	require.NoError(t, err)
	require.False(t, ok, "an ended call stays ended")

	got, err = db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusCompleted, got.Status)
	require.Equal(t, "phone hung up", got.EndReason)
	require.Equal(t, dialq.EndedByPhone, got.EndedBy)
	require.NotNil(t, got.EndedAt)

	ev, err := db.Events(ctx, c.ID)
	require.NoError(t, err)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	require.Equal(t, []string{"queued", "dialing", "invite_sent", "ringing", "answered", "hold", "completed", "failed"}, kinds)
	require.Equal(t, dialq.StatusCompleted, ev[6].Status, "the end moved the call")
	require.True(t, ev[7].Ignored, "the late failure is in the timeline, ignored")
	require.Empty(t, ev[7].Status)
	require.Contains(t, ev[7].Detail, "ignored: the call is completed")
}

// TestOrphanedBridgedCallsAreClosed: calls whose worker stopped vouching for
// them fail as worker_lost, and so does a call of a live worker that no
// longer holds it (its end could not be recorded); a vouched-for call is
// left alone.
func TestOrphanedBridgedCallsAreClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(time.Now())
	db, tenant := newBridgeStore(t, postgres.WithClock(clock.Now))
	dead := newExotelCall(t, db, tenant)
	alive := newExotelCall(t, db, tenant)
	dropped := newExotelCall(t, db, tenant)
	require.NoError(t, db.RecordInviteSent(ctx, dead.ID, "worker-dead", "sip-dead"))
	require.NoError(t, db.RecordInviteSent(ctx, alive.ID, "worker-alive", "sip-alive"))
	require.NoError(t, db.RecordInviteSent(ctx, dropped.ID, "worker-alive", "sip-dropped"))

	cut := clock.Advance(time.Second)
	clock.Advance(time.Second)
	n, hangups, err := db.TouchBridged(ctx, "worker-alive", []uuid.UUID{alive.ID, dead.ID})
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "a worker vouches only for its own calls, and only those it names")
	require.Empty(t, hangups)

	ids, err := db.CloseOrphanedBridged(ctx, cut)
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{dead.ID, dropped.ID}, ids)

	got, err := db.GetCall(ctx, dead.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusFailed, got.Status)
	require.Equal(t, dialq.ReasonWorkerLost, got.FailureReason)
	got, err = db.GetCall(ctx, alive.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusDialing, got.Status)
}

// TestHangupRequestsReachTheHoldingWorker: a hang-up asked for a live
// bridged call is stored, shows on the timeline and comes back to the
// worker holding the call with its next heartbeat; the first request's
// reason stays, and an ended call takes none.
func TestHangupRequestsReachTheHoldingWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	asked := newExotelCall(t, db, tenant)
	other := newExotelCall(t, db, tenant)
	for _, c := range []*dialq.Call{asked, other} {
		require.NoError(t, db.RecordInviteSent(ctx, c.ID, "worker-1", "sip-"+c.ID.String()))
	}

	ok, err := db.RequestHangup(ctx, asked.ID, dialq.EndedByAPI, "hung up by API")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = db.RequestHangup(ctx, asked.ID, dialq.EndedByAPI, "asked again")
	require.NoError(t, err)
	require.True(t, ok, "the call is still live")

	n, hangups, err := db.TouchBridged(ctx, "worker-1", []uuid.UUID{asked.ID, other.ID})
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.Equal(t, map[uuid.UUID]string{asked.ID: "hung up by API"}, hangups)
	_, hangups, err = db.TouchBridged(ctx, "worker-2", []uuid.UUID{asked.ID})
	require.NoError(t, err)
	require.Empty(t, hangups, "only the worker holding the call is told")

	events, err := db.Events(ctx, asked.ID)
	require.NoError(t, err)
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind+": "+e.Detail)
	}
	require.Contains(t, kinds, "hangup_requested: hung up by API")

	_, err = db.RecordFailed(ctx, other.ID, dialq.Failure{Reason: dialq.ReasonWorkerShutdown, Message: "m"}, time.Now())
	require.NoError(t, err)
	ok, err = db.RequestHangup(ctx, other.ID, dialq.EndedByAPI, "hung up by API")
	require.NoError(t, err)
	require.False(t, ok, "an ended call takes no hang-up")
}
