package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/livekit/protocol/auth"
	lkp "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// TestDialNotPlacedRetryIgnoresLeftoverPhone: the SIP service's phone
// participant joins the room but cannot finish joining, so it answers
// "update room failed" without sending an INVITE (livekit-sip's outbound
// call joins the room before it dials) and its participant lingers a moment.
// The call goes back to queued (dial_not_placed); the retry must dial the
// phone (once, in all) and not follow the leftover as the callee's phone.
func TestDialNotPlacedRetryIgnoresLeftoverPhone(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{noWorker: true, script: sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 300 * time.Millisecond})})
	inner := s.sip
	var once sync.Once
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := false
		if strings.HasSuffix(r.URL.Path, "/CreateSIPParticipant") {
			once.Do(func() { first = true })
		}
		if !first {
			inner.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		var req lkp.CreateSIPParticipantRequest
		require.NoError(t, proto.Unmarshal(body, &req))
		token, err := auth.NewAccessToken(s.lk.APIKey, s.lk.APISecret).SetIdentity(req.ParticipantIdentity).
			SetKind(lkp.ParticipantInfo_SIP).SetAttributes(map[string]string{lkp.AttrSIPCallStatus: "dialing"}).
			SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: req.RoomName}).ToJWT()
		require.NoError(t, err)
		ghost, err := lksdk.ConnectToRoomWithToken(s.lk.URL, token, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
		require.NoError(t, err)
		time.AfterFunc(1500*time.Millisecond, ghost.Disconnect) // livekit-sip closes its room
		twirp.WriteError(w, twirp.InternalError("update room failed: could not connect after timeout"))
	}))
	t.Cleanup(proxy.Close)
	s.sipURL = proxy.URL
	s.startWorker(stackOptions{})

	r := s.do(http.MethodPost, "/call/outbound", s.body("+15550200123", "twilio", s.twilio))
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	var kinds []string
	ev, err := s.db.Events(context.Background(), uuid.MustParse(id))
	require.NoError(t, err)
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	require.Equal(t, http.StatusOK, r.Status, "%s\n%v", r.Raw, kinds)
	require.Equal(t, []string{"queued", "attempt", "room_created", "agent_dispatched", "dialing", "dial_not_placed",
		"attempt_failed", "attempt", "dialing", "answered"}, kinds)
	require.Equal(t, 1, s.dialsTo("+15550200123"), "the phone rang once")
}
