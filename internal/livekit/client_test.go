package livekit

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	lkp "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"
)

// leavingRoom is livekit-server's room service as it answers about a
// participant that left while a removal was on its way: the removal gets
// no answer until the routing gives up ("no response from servers" after
// 3 s), and the room no longer lists it. The one real livekit-server shows
// this only in a race (the phone hanging up as the agent leaves), so the
// answers are played here.
type leavingRoom struct {
	lkp.RoomService // the methods not played panic
	present         atomic.Bool
	removals        atomic.Int32
	stall           time.Duration
}

func (r *leavingRoom) RemoveParticipant(ctx context.Context, _ *lkp.RoomParticipantIdentity) (*lkp.RemoveParticipantResponse, error) {
	if r.removals.Add(1) == 1 {
		select {
		case <-time.After(r.stall):
		case <-ctx.Done():
		}
		return nil, twirp.NewError(twirp.Unavailable, "no response from servers")
	}
	if !r.present.Load() {
		return nil, twirp.NewError(twirp.NotFound, "participant does not exist")
	}
	r.present.Store(false)
	return &lkp.RemoveParticipantResponse{}, nil
}

func (r *leavingRoom) ListParticipants(context.Context, *lkp.ListParticipantsRequest) (*lkp.ListParticipantsResponse, error) {
	var ps []*lkp.ParticipantInfo
	if r.present.Load() {
		ps = append(ps, &lkp.ParticipantInfo{Identity: "phone-+15550100001"})
	}
	return &lkp.ListParticipantsResponse{Participants: ps}, nil
}

func TestRemovePhoneThatLeftDuringTheRemoval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		stillThere bool
		removals   int32
	}{
		// The phone left: it is gone, in about removeProbe, not 3 s.
		{"phone gone", false, 1},
		// The first removal stalled on a phone still there: removed again.
		{"phone still there", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			room := &leavingRoom{stall: 3 * time.Second}
			room.present.Store(tc.stillThere)
			srv := httptest.NewServer(lkp.NewRoomServiceServer(room))
			t.Cleanup(srv.Close)
			c := New(Config{URL: srv.URL, APIKey: "devkey", APISecret: "secret"})

			start := time.Now()
			require.NoError(t, c.RemovePhone(context.Background(), "room", "phone-+15550100001"))
			require.Less(t, time.Since(start), 2*time.Second)
			require.Equal(t, tc.removals, room.removals.Load())
			require.False(t, room.present.Load())
		})
	}
}

func TestRemovePhoneOfLiveKitDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(lkp.NewRoomServiceServer(&downRoom{}))
	t.Cleanup(srv.Close)
	c := New(Config{URL: srv.URL, APIKey: "devkey", APISecret: "secret"})
	err := c.RemovePhone(context.Background(), "room", "phone-+15550100001")
	require.Error(t, err)
	require.Contains(t, err.Error(), "LiveKit is unavailable")
}

// downRoom answers every request as a livekit-server that lost its Redis.
type downRoom struct{ lkp.RoomService }

func (downRoom) RemoveParticipant(context.Context, *lkp.RoomParticipantIdentity) (*lkp.RemoveParticipantResponse, error) {
	return nil, twirp.NewError(twirp.Unavailable, "no response from servers")
}

func (downRoom) ListParticipants(context.Context, *lkp.ListParticipantsRequest) (*lkp.ListParticipantsResponse, error) {
	return nil, twirp.NewError(twirp.Unavailable, "no response from servers")
}
