package sipdouble_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// TestSkipRoomAnswersWithoutJoining checks the load-test mode: the call is
// answered (or refused) exactly as usual, but no phone enters the room.
func TestSkipRoomAnswersWithoutJoining(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	srv, err := sipdouble.New(sipdouble.Config{
		LiveKitURL:  lk.URL,
		APIKey:      lk.APIKey,
		APISecret:   lk.APISecret,
		Script:      sipdouble.ByNumber(map[string]sipdouble.Outcome{"+15550000486": {Code: 486}}, sipdouble.Always(sipdouble.Outcome{Code: 200})),
		InviteDelay: time.Millisecond,
		SkipRoom:    true,
		Logger:      testLogger(t),
	})
	require.NoError(t, err)
	l, err := sipdouble.Listen("127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-served)
	})
	client := lksdk.NewSIPClient("http://"+l.Addr().String(), lk.APIKey, lk.APISecret)
	rooms := lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret)
	trunk := createTrunk(t, client, trunkNumber)
	ctx := context.Background()

	room := uniqueRoom(t)
	_, err = rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room, EmptyTimeout: 30})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = rooms.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: room}) })

	start := time.Now()
	info, err := client.CreateSIPParticipant(ctx, &livekit.CreateSIPParticipantRequest{
		SipTrunkId:          trunk.SipTrunkId,
		SipCallTo:           "+15550000200",
		RoomName:            room,
		ParticipantIdentity: "phone-+15550000200",
		WaitUntilAnswered:   true,
	})
	require.NoError(t, err)
	require.Less(t, time.Since(start), 2*time.Second, "answering without a room should be quick")
	require.True(t, strings.HasPrefix(info.ParticipantId, "PA_"), info.ParticipantId)
	require.True(t, strings.HasPrefix(info.SipCallId, "SCL_"), info.SipCallId)
	require.Equal(t, "phone-+15550000200", info.ParticipantIdentity)
	require.Equal(t, room, info.RoomName)

	c := callIn(t, srv, room)
	require.True(t, c.Answered)
	require.Equal(t, info.ParticipantId, c.ParticipantSID)
	require.Equal(t, sipdouble.CallStatusActive, c.CallStatus)
	require.Empty(t, participants(t, rooms, room), "the phone must not join the room")

	// A refusal is still the real service's error.
	_, err = client.CreateSIPParticipant(ctx, &livekit.CreateSIPParticipantRequest{
		SipTrunkId:          trunk.SipTrunkId,
		SipCallTo:           "+15550000486",
		RoomName:            room,
		ParticipantIdentity: "phone-+15550000486",
		WaitUntilAnswered:   true,
	})
	require.EqualError(t, err, "rpc error: code = ResourceExhausted desc = INVITE failed: sip status: 486: Busy Here")
	require.Equal(t, livekit.SIPStatusCode(486), lksdk.SIPStatusFrom(err).Code)
}
