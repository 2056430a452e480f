package testroom

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

func TestMain(m *testing.M) {
	testenv.QuietLiveKitSDK()
	os.Exit(m.Run())
}

// TestAgentWatchesThePhone plays the bridge's phone participant by hand:
// the agent sees its call statuses, call events and DTMF digits, and sees
// it leave.
func TestAgentWatchesThePhone(t *testing.T) {
	t.Parallel()
	lk := testenv.LiveKitServer(t)
	room := testenv.Name("testroom-")
	a := Join(t, lk, room, "phone-test")

	phone := joinAs(t, lk, room, "phone-test", livekit.ParticipantInfo_SIP, map[string]string{"sip.callStatus": "ringing"})
	a.AwaitStatus("ringing")
	phone.LocalParticipant.SetAttributes(map[string]string{"sip.callStatus": "active"})
	require.Equal(t, "phone-test", a.AwaitStatus("active").Identity())

	event, err := json.Marshal(map[string]string{"event": "call_answered"})
	require.NoError(t, err)
	require.NoError(t, phone.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte(`{"event":"elsewhere"}`)),
		lksdk.WithDataPublishTopic("other"), lksdk.WithDataPublishReliable(true)))
	require.NoError(t, phone.LocalParticipant.PublishDataPacket(lksdk.UserData(event),
		lksdk.WithDataPublishTopic("sip_bridge_events"), lksdk.WithDataPublishReliable(true)))
	a.AwaitEvents("call_answered")
	require.NoError(t, phone.LocalParticipant.PublishDTMF(1, "1"))
	require.NoError(t, phone.LocalParticipant.PublishDTMF(11, "#"))
	a.AwaitDigits("1#")

	phone.LocalParticipant.SetAttributes(map[string]string{"sip.callStatus": "hangup"})
	a.AwaitCallStatus("hangup")
	phone.Disconnect()
	a.AwaitPhoneGone()
	require.Equal(t, []string{"ringing", "active", "hangup"}, a.CallStatuses())
}

// TestAgentSpeaksAndHears has one agent speak and another, watching it,
// hear the tone: both directions of an Agent's audio.
func TestAgentSpeaksAndHears(t *testing.T) {
	t.Parallel()
	lk := testenv.LiveKitServer(t)
	room := testenv.Name("testroom-")
	speaker := Join(t, lk, room, "nobody")
	listener := Join(t, lk, room, speaker.room.LocalParticipant.Identity())

	stop := speaker.Speak(600)
	tone := listener.AwaitFrames("the tone", 0, 25, func(f []int16) bool { return Loud(f) && ToneShare(f, 600) > 0.6 })
	require.InDelta(t, 600, Frequency(tone), 30)
	stop()
	heard := listener.Heard()
	require.GreaterOrEqual(t, heard, len(tone))
	listener.AwaitFrames("silence after the tone", heard, 10, func(f []int16) bool { return !Loud(f) })
}

// joinAs joins room as a participant of kind with attributes, for the
// agent to watch, and leaves when the test ends.
func joinAs(t *testing.T, lk testenv.LiveKit, room, identity string, kind livekit.ParticipantInfo_Kind, attrs map[string]string) *lksdk.Room {
	t.Helper()
	token, err := auth.NewAccessToken(lk.APIKey, lk.APISecret).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room, CanUpdateOwnMetadata: ptr(true)}).
		SetIdentity(identity).SetKind(kind).SetAttributes(attrs).
		ToJWT()
	require.NoError(t, err)
	r, err := lksdk.ConnectToRoomWithToken(lk.URL, token, &lksdk.RoomCallback{})
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)
	return r
}

func ptr[T any](v T) *T { return &v }
