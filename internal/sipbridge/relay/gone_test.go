package relay

import (
	"context"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestAlreadyGoneReadsLiveKitsAnswers asks the stack's livekit-server to
// remove participants that are not there, as ensureGone does after a
// hang-up, and checks which answers mean "gone".
func TestAlreadyGoneReadsLiveKitsAnswers(t *testing.T) {
	t.Parallel()
	lk := testenv.LiveKitServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rooms := lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret)
	room := testenv.Name("relay-gone-")
	_, err := rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room, EmptyTimeout: 30})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = rooms.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: room}) })

	_, err = rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: "phone-nobody"})
	require.Error(t, err)
	require.True(t, alreadyGone(err), "participant not in the room: %v", err)

	_, err = rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room + "-deleted", Identity: "phone-nobody"})
	require.Error(t, err)
	require.True(t, alreadyGone(err), "room not there: %v", err)

	wrongKey := lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, "not-the-secret-not-the-secret-not-the-secret")
	_, err = wrongKey.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: "phone-nobody"})
	require.Error(t, err)
	require.False(t, alreadyGone(err), "refused for another reason: %v", err)
}
