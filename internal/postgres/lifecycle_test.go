package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestTerminalCallsNeverMove: once a call is over, no record moves it, and
// each late record is kept in the timeline as ignored.
func TestTerminalCallsNeverMove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	c := newExotelCall(t, db, tenant)
	at := time.Now()

	ok, err := db.RecordFailed(ctx, c.ID, dialq.SIPFailure(486, "Busy Here", "Exotel"), at)
	require.NoError(t, err)
	require.True(t, ok)

	ok, err = db.RecordAnswered(ctx, c.ID, dialq.Participant{SID: "PA_late", Identity: "phone-x"}, at)
	require.NoError(t, err)
	require.False(t, ok, "a busy call is not answered later")
	ok, err = db.RecordEnded(ctx, c.ID, dialq.Canceled("hung up by API before the answer"), at)
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = db.RecordFailed(ctx, c.ID, dialq.SIPFailure(480, "Temporarily Unavailable", "Exotel"), at)
	require.NoError(t, err)
	require.False(t, ok, "a duplicate end changes nothing")
	require.NoError(t, db.RecordDialNotPlaced(ctx, c.ID, "late"))

	got, err := db.GetCall(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusBusy, got.Status)
	require.Equal(t, dialq.ReasonBusy, got.FailureReason)
	require.Equal(t, dialq.EndedByPhone, got.EndedBy)
	require.Equal(t, 486, got.SIPStatusCode)
	require.Contains(t, got.EndReason, "SIP 486 Busy Here")
	require.Empty(t, got.ParticipantSID)

	ev, err := db.Events(ctx, c.ID)
	require.NoError(t, err)
	type row struct {
		kind    string
		status  dialq.CallStatus
		ignored bool
	}
	var rows []row
	for _, e := range ev {
		rows = append(rows, row{e.Kind, e.Status, e.Ignored})
	}
	require.Equal(t, []row{
		{"queued", dialq.StatusQueued, false},
		{"dialing", dialq.StatusDialing, false},
		{"busy", dialq.StatusBusy, false},
		{"answered", "", true},
		{"canceled", "", true},
		{"no_answer", "", true},
		{"dial_not_placed", "", true},
	}, rows)
}

// TestUnansweredCallsDoNotComplete: the store refuses what the state
// machine does: a call ringing cannot complete, a queued call can be
// canceled before it is dialed.
func TestUnansweredCallsDoNotComplete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	ringing := newExotelCall(t, db, tenant)
	require.NoError(t, db.RecordRinging(ctx, ringing.ID, 180, "Ringing"))
	ok, err := db.RecordEnded(ctx, ringing.ID, dialq.Completed(dialq.EndedByPhone, "phone hung up"), time.Now())
	require.NoError(t, err)
	require.False(t, ok)

	queued := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_exo",
		ToNumber: "+918044319241", Service: dialq.ServiceExotel, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	_, err = db.CreateCall(ctx, queued)
	require.NoError(t, err)
	ok, err = db.RecordEnded(ctx, queued.ID, dialq.Canceled("hung up by API before the dial"), time.Now())
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, db.MarkDialing(ctx, queued.ID, "phone-x", time.Now()))
	got, err := db.GetCall(ctx, queued.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusCanceled, got.Status, "a canceled call is never dialed")
	require.Equal(t, dialq.EndedByAPI, got.EndedBy)
	require.Nil(t, got.DialedAt)

	_, err = db.RecordEnded(ctx, queued.ID, dialq.End{Status: dialq.StatusAnswered}, time.Now())
	require.Error(t, err, "only a terminal status ends a call")
}
