package sipdouble_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

const trunkNumber = "+15550100000"

// answers maps the dialled number to what the callee does; the numbers end in
// the SIP code they answer with.
var answers = map[string]sipdouble.Outcome{
	"+15550000200": {Code: 200, RingFor: 300 * time.Millisecond},
	"+15550000486": {Code: 486, RingFor: 200 * time.Millisecond},
	"+15550000480": {Code: 480, RingFor: 200 * time.Millisecond},
	"+15550000603": {Code: 603, RingFor: 200 * time.Millisecond},
	"+15550000404": {Code: 404},
	"+15550000503": {Code: 503},
	"+15550000408": {Code: 408, RingFor: 200 * time.Millisecond},
	"+15550000999": {Code: 200, RingFor: time.Minute}, // never picks up in time
}

func TestTrunkAPIsAreProxiedToLiveKit(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	_, url := startDouble(t, lk, nil)
	ctx := context.Background()
	viaDouble := lksdk.NewSIPClient(url, lk.APIKey, lk.APISecret)
	direct := lksdk.NewSIPClient(lk.URL, lk.APIKey, lk.APISecret)

	trunk, err := viaDouble.CreateSIPOutboundTrunk(ctx, &livekit.CreateSIPOutboundTrunkRequest{
		Trunk: &livekit.SIPOutboundTrunkInfo{Name: "proxied", Address: "sip.example.invalid", Numbers: []string{trunkNumber}},
	})
	require.NoError(t, err)

	got, err := direct.GetSIPOutboundTrunksByIDs(ctx, []string{trunk.SipTrunkId})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.NotNil(t, got[0], "trunk created through the double is not on livekit-server")
	require.Equal(t, "proxied", got[0].Name)

	got, err = viaDouble.GetSIPOutboundTrunksByIDs(ctx, []string{trunk.SipTrunkId})
	require.NoError(t, err)
	require.NotNil(t, got[0])

	_, err = viaDouble.DeleteSIPTrunk(ctx, &livekit.DeleteSIPTrunkRequest{SipTrunkId: trunk.SipTrunkId})
	require.NoError(t, err)
	got, err = direct.GetSIPOutboundTrunksByIDs(ctx, []string{trunk.SipTrunkId})
	require.NoError(t, err)
	require.Nil(t, got[0], "trunk deleted through the double is still on livekit-server")
}

// TestCreateSIPParticipantAnswersLikeLiveKit checks each answer of the callee
// against the errors DESIGN.md records from the real SIP service.
func TestCreateSIPParticipantAnswersLikeLiveKit(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	srv, url := startDouble(t, lk, sipdouble.ByNumber(answers, nil))
	client := lksdk.NewSIPClient(url, lk.APIKey, lk.APISecret)
	rooms := lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret)
	trunk := createTrunk(t, client, trunkNumber)

	tests := []struct {
		name     string
		callTo   string
		trunkID  string // default: the test trunk
		ringing  time.Duration
		wantErr  string
		wantCode livekit.SIPStatusCode // SIPStatusFrom(err).Code; 0: no SIP status
	}{
		{name: "200 answered", callTo: "+15550000200"},
		{name: "486 busy", callTo: "+15550000486",
			wantErr: "rpc error: code = ResourceExhausted desc = INVITE failed: sip status: 486: Busy Here", wantCode: 486},
		{name: "480 unavailable", callTo: "+15550000480",
			wantErr: "rpc error: code = ResourceExhausted desc = INVITE failed: sip status: 480: Temporarily Unavailable", wantCode: 480},
		{name: "603 decline", callTo: "+15550000603",
			wantErr: "rpc error: code = PermissionDenied desc = unexpected status from INVITE response: sip status: 603: Decline", wantCode: 603},
		{name: "404 not found", callTo: "+15550000404",
			wantErr: "rpc error: code = NotFound desc = INVITE failed: sip status: 404: Not Found", wantCode: 404},
		{name: "503 service unavailable", callTo: "+15550000503",
			wantErr: "rpc error: code = FailedPrecondition desc = unexpected status from INVITE response: sip status: 503: Service Unavailable", wantCode: 503},
		{name: "408 request timeout", callTo: "+15550000408",
			wantErr: "rpc error: code = DeadlineExceeded desc = unexpected status from INVITE response: sip status: 408: Request Timeout", wantCode: 408},
		{name: "rings past RingingTimeout", callTo: "+15550000999", ringing: time.Second,
			wantErr: "twirp error canceled: twirp error unknown: sip request timed out"},
		{name: "bad trunk id", callTo: "+15550000200", trunkID: "ST_doesnotexist",
			wantErr: "twirp error not_found: requested sip trunk does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			room := uniqueRoom(t)
			identity := "phone-" + tt.callTo
			trunkID := trunk.SipTrunkId
			if tt.trunkID != "" {
				trunkID = tt.trunkID
			}
			req := &livekit.CreateSIPParticipantRequest{
				SipTrunkId:            trunkID,
				SipCallTo:             tt.callTo,
				RoomName:              room,
				ParticipantIdentity:   identity,
				ParticipantName:       "Callee",
				ParticipantMetadata:   `{"call_id":"c-1"}`,
				ParticipantAttributes: map[string]string{"dialq.call_id": "c-1"},
				WaitUntilAnswered:     true,
			}
			if tt.ringing > 0 {
				req.RingingTimeout = durationpb.New(tt.ringing)
			}
			start := time.Now()
			info, err := client.CreateSIPParticipant(context.Background(), req)
			took := time.Since(start)
			require.Len(t, requestsFor(srv, room), 1)

			if tt.wantErr != "" {
				require.Error(t, err)
				require.Nil(t, info)
				require.Equal(t, tt.wantErr, err.Error())
				st := lksdk.SIPStatusFrom(err)
				if tt.wantCode == 0 {
					require.Nil(t, st)
				} else {
					require.NotNil(t, st)
					require.Equal(t, tt.wantCode, st.Code)
				}
				if tt.ringing > 0 {
					require.GreaterOrEqual(t, took, tt.ringing)
					require.Less(t, took, tt.ringing+2*time.Second)
				}
				requireGone(t, rooms, room, identity)
				return
			}

			require.NoError(t, err)
			require.GreaterOrEqual(t, took, answers[tt.callTo].RingFor, "answered before the phone rang")
			require.Regexp(t, `^PA_`, info.ParticipantId)
			require.Regexp(t, `^SCL_`, info.SipCallId)
			require.Equal(t, identity, info.ParticipantIdentity)
			require.Equal(t, room, info.RoomName)

			var p *livekit.ParticipantInfo
			require.Eventually(t, func() bool {
				p = participants(t, rooms, room)[identity]
				return p != nil && p.Attributes[livekit.AttrSIPCallStatus] == "active"
			}, 5*time.Second, 50*time.Millisecond, "phone participant not active in the room")
			require.Equal(t, info.ParticipantId, p.Sid)
			require.Equal(t, livekit.ParticipantInfo_SIP, p.Kind)
			require.Equal(t, "Callee", p.Name)
			require.Equal(t, `{"call_id":"c-1"}`, p.Metadata)
			require.Equal(t, "c-1", p.Attributes["dialq.call_id"])
			require.Equal(t, tt.callTo, p.Attributes[livekit.AttrSIPPhoneNumber])
			require.Equal(t, trunkNumber, p.Attributes[livekit.AttrSIPTrunkNumber])
			require.Equal(t, trunk.SipTrunkId, p.Attributes[livekit.AttrSIPTrunkID])
			require.Equal(t, info.SipCallId, p.Attributes[livekit.AttrSIPCallID])
			require.NotEmpty(t, p.Attributes[livekit.AttrSIPAnswerTime])

			c := callIn(t, srv, room)
			require.True(t, c.Answered)
			require.False(t, c.Ended)
			require.Equal(t, info.ParticipantId, c.ParticipantSID)
		})
	}
}

func TestCreateSIPParticipantRejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	srv, url := startDouble(t, lk, nil)
	client := lksdk.NewSIPClient(url, lk.APIKey, lk.APISecret)

	tests := []struct {
		name    string
		req     *livekit.CreateSIPParticipantRequest
		wantErr string
	}{
		{"no room", &livekit.CreateSIPParticipantRequest{SipTrunkId: "ST_x", SipCallTo: "+15550000200"},
			"twirp error invalid_argument: missing room name"},
		{"no number", &livekit.CreateSIPParticipantRequest{SipTrunkId: "ST_x", RoomName: "r"},
			"twirp error invalid_argument: missing sip callee number"},
		{"no trunk", &livekit.CreateSIPParticipantRequest{SipCallTo: "+15550000200", RoomName: "r"},
			"twirp error invalid_argument: missing sip trunk id and sip number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.CreateSIPParticipant(context.Background(), tt.req)
			require.EqualError(t, err, tt.wantErr)
			var te twirp.Error
			require.ErrorAs(t, err, &te)
			require.Equal(t, twirp.InvalidArgument, te.Code())
		})
	}
	require.Empty(t, srv.Calls(), "an invalid request placed a call")
	require.Len(t, srv.Requests(), len(tests))
}

func TestCreateSIPParticipantRequiresSIPCallGrant(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	srv, url := startDouble(t, lk, nil)
	req := &livekit.CreateSIPParticipantRequest{SipTrunkId: "ST_x", SipCallTo: "+15550000200", RoomName: "r"}

	t.Run("wrong secret", func(t *testing.T) {
		_, err := lksdk.NewSIPClient(url, lk.APIKey, "not-the-secret").CreateSIPParticipant(context.Background(), req)
		var te twirp.Error
		require.ErrorAs(t, err, &te)
		require.Equal(t, twirp.Unauthenticated, te.Code())
	})
	t.Run("no sip grant", func(t *testing.T) {
		token, err := auth.NewAccessToken(lk.APIKey, lk.APISecret).
			SetVideoGrant(&auth.VideoGrant{RoomAdmin: true, Room: "r"}).
			ToJWT()
		require.NoError(t, err)
		api, err := lksdk.NewLiveKitAPI(lksdk.WithURL(url), lksdk.WithToken(token))
		require.NoError(t, err)
		_, err = api.SIP().CreateSIPParticipant(context.Background(), req)
		require.EqualError(t, err, "twirp error unauthenticated: permissions denied")
	})
	require.Empty(t, srv.Requests(), "unauthenticated requests are not recorded")
}

// TestWaitUntilAnsweredFalse checks that the call returns as soon as the phone
// is in the room and that the outcome then shows only in sip.callStatus and
// in the participant leaving.
func TestWaitUntilAnsweredFalse(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	srv, url := startDouble(t, lk, sipdouble.ByNumber(map[string]sipdouble.Outcome{
		"+15550000200": {Code: 200, RingFor: 800 * time.Millisecond, HangUpAfter: 800 * time.Millisecond},
		"+15550000486": {Code: 486, RingFor: 800 * time.Millisecond},
	}, nil))
	client := lksdk.NewSIPClient(url, lk.APIKey, lk.APISecret)
	trunk := createTrunk(t, client, trunkNumber)

	tests := []struct {
		name    string
		callTo  string
		events  []string
		wantErr string
	}{
		{"answered then hung up", "+15550000200", []string{"dialing", "ringing", "active", "hangup", "left"}, ""},
		{"busy", "+15550000486", []string{"dialing", "ringing", "left"},
			"rpc error: code = ResourceExhausted desc = INVITE failed: sip status: 486: Busy Here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			room := uniqueRoom(t)
			identity := "phone-" + tt.callTo
			obs := observe(t, lk, room, identity)

			start := time.Now()
			info, err := client.CreateSIPParticipant(context.Background(), &livekit.CreateSIPParticipantRequest{
				SipTrunkId:          trunk.SipTrunkId,
				SipCallTo:           tt.callTo,
				RoomName:            room,
				ParticipantIdentity: identity,
			})
			took := time.Since(start)
			require.NoError(t, err, "without WaitUntilAnswered even a busy callee is no error")
			require.Less(t, took, 800*time.Millisecond, "did not return before the phone finished ringing")
			t.Logf("CreateSIPParticipant returned after %s", took)
			require.Regexp(t, `^PA_`, info.ParticipantId)

			obs.requireEvents(t, tt.events, 10*time.Second)
			c := callIn(t, srv, room)
			require.True(t, c.Ended)
			if tt.wantErr == "" {
				require.True(t, c.Answered)
				require.NoError(t, c.Err)
				require.Equal(t, livekit.DisconnectReason_CLIENT_INITIATED, c.DisconnectReason)
				return
			}
			require.False(t, c.Answered)
			require.EqualError(t, c.Err, tt.wantErr)
			require.Equal(t, livekit.DisconnectReason_USER_REJECTED, c.DisconnectReason)
		})
	}
}

func TestHangUpWhenAlone(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	srv, url := startDouble(t, lk, sipdouble.Always(sipdouble.Outcome{Code: 200, HangUpWhenAlone: true}))
	client := lksdk.NewSIPClient(url, lk.APIKey, lk.APISecret)
	rooms := lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret)
	trunk := createTrunk(t, client, trunkNumber)
	room := uniqueRoom(t)

	token, err := auth.NewAccessToken(lk.APIKey, lk.APISecret).
		SetIdentity("agent").
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).
		ToJWT()
	require.NoError(t, err)
	agent, err := lksdk.ConnectToRoomWithToken(lk.URL, token, &lksdk.RoomCallback{},
		lksdk.WithAutoSubscribe(false), lksdk.WithLogger(sdkTestLogger(t)))
	require.NoError(t, err)

	_, err = client.CreateSIPParticipant(context.Background(), &livekit.CreateSIPParticipantRequest{
		SipTrunkId: trunk.SipTrunkId, SipCallTo: "+15550000777", RoomName: room, WaitUntilAnswered: true,
	})
	require.NoError(t, err)
	// LiveKit's default identity for a SIP participant.
	require.Contains(t, participants(t, rooms, room), "sip_+15550000777")

	agent.Disconnect()
	requireGone(t, rooms, room, "sip_+15550000777")
	c := callIn(t, srv, room)
	require.Equal(t, "hangup", c.CallStatus)
	require.Equal(t, livekit.DisconnectReason_CLIENT_INITIATED, c.DisconnectReason)
}

func TestCloseHangsUpEveryPhone(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	srv, err := sipdouble.New(sipdouble.Config{
		LiveKitURL: lk.URL, APIKey: lk.APIKey, APISecret: lk.APISecret,
		Script: sipdouble.Always(sipdouble.Outcome{Code: 200}),
		Logger: testLogger(t),
	})
	require.NoError(t, err)
	l, err := sipdouble.Listen("127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	url := "http://" + l.Addr().String()
	client := lksdk.NewSIPClient(url, lk.APIKey, lk.APISecret)
	rooms := lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret)
	// Through livekit-server itself: its clean-up runs after the double closed.
	trunk := createTrunk(t, lksdk.NewSIPClient(lk.URL, lk.APIKey, lk.APISecret), trunkNumber)
	room := uniqueRoom(t)

	_, err = client.CreateSIPParticipant(context.Background(), &livekit.CreateSIPParticipantRequest{
		SipTrunkId: trunk.SipTrunkId, SipCallTo: "+15550000200", RoomName: room,
		ParticipantIdentity: "phone-a", WaitUntilAnswered: true,
	})
	require.NoError(t, err)
	require.Contains(t, participants(t, rooms, room), "phone-a")

	require.NoError(t, srv.Close())
	require.NoError(t, <-served)
	requireGone(t, rooms, room, "phone-a")
	require.True(t, callIn(t, srv, room).Ended)
}

func TestListenRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{":0", "0.0.0.0:0", "192.0.2.1:0"} {
		_, err := sipdouble.Listen(addr)
		require.Error(t, err, addr)
	}
	l, err := sipdouble.Listen("localhost:0")
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []sipdouble.Config{
		{},
		{LiveKitURL: "127.0.0.1:7880", APIKey: "k", APISecret: "s"},
		{LiveKitURL: "http://127.0.0.1:7880"},
	} {
		_, err := sipdouble.New(cfg)
		require.Error(t, err)
	}
	_, err := sipdouble.New(sipdouble.Config{LiveKitURL: "ws://127.0.0.1:7880", APIKey: "k", APISecret: "s"})
	require.NoError(t, err)
}
