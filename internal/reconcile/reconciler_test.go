package reconcile

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// store holds one call: the copy the pass lists, as it was when listed,
// and the row as it is now.
type store struct {
	listed, row *dialq.Call
	ended       []dialq.End
}

func (s *store) ClaimLiveLiveKitCalls(context.Context, time.Time, int) ([]*dialq.Call, error) {
	c := *s.listed
	return []*dialq.Call{&c}, nil
}

func (s *store) GetCall(context.Context, uuid.UUID) (*dialq.Call, error) {
	c := *s.row
	return &c, nil
}

func (s *store) RecordEnded(_ context.Context, _ uuid.UUID, e dialq.End, _ time.Time) (bool, error) {
	if s.row.Status.Terminal() {
		return false, nil
	}
	s.ended = append(s.ended, e)
	s.row.Status = e.Status
	return true, nil
}

func (s *store) RecordAgentLeft(context.Context, uuid.UUID, string, time.Time) error { return nil }

// noPhone is a LiveKit whose rooms hold no phone.
type noPhone struct{}

func (noPhone) FindPhone(context.Context, string, string) (dialq.PhoneState, bool, error) {
	return dialq.PhoneState{}, false, nil
}
func (noPhone) FindAgent(context.Context, string, string) (string, bool, error) {
	return "", false, nil
}
func (noPhone) RemovePhone(context.Context, string, string) error { return nil }

// TestPhoneGoneIsReadFromTheRowAsItIsNow: the pass listed an answered call;
// before it asked LiveKit, a hang-up was stored and the phone removed (the
// agent's leaving, the API's hang-up). The phone it finds gone is that
// hang-up's, not the phone's; a call ended meanwhile is left as it is.
func TestPhoneGoneIsReadFromTheRowAsItIsNow(t *testing.T) {
	answered := time.Now().Add(-time.Minute)
	listed := &dialq.Call{ID: uuid.New(), Service: dialq.ServiceTwilio, Status: dialq.StatusAnswered,
		RoomName: "room", ParticipantIdentity: "phone-+15550100000", AnsweredAt: &answered}
	pass := func(row *dialq.Call) *store {
		s := &store{listed: listed, row: row}
		r := NewReconciler(Config{Store: s, LiveKit: noPhone{}, Log: slog.New(slog.DiscardHandler)})
		r.Pass(context.Background())
		return s
	}

	for _, by := range []dialq.EndedBy{dialq.EndedByAgent, dialq.EndedByAPI} {
		row := *listed
		row.HangupBy, row.HangupReason = by, "asked by "+string(by)
		s := pass(&row)
		require.Len(t, s.ended, 1)
		require.Equal(t, dialq.StatusCompleted, s.ended[0].Status)
		require.Equal(t, by, s.ended[0].By)
		require.Equal(t, "asked by "+string(by), s.ended[0].Reason)
	}

	row := *listed
	s := pass(&row)
	require.Len(t, s.ended, 1)
	require.Equal(t, dialq.EndedByPhone, s.ended[0].By)
	require.Equal(t, "phone left the room (found by the reconciler)", s.ended[0].Reason)

	row = *listed
	row.Status = dialq.StatusCompleted
	require.Empty(t, pass(&row).ended, "ended meanwhile: nothing recorded")
}
