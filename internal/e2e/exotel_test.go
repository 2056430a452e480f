package e2e

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	msdk "github.com/livekit/media-sdk"
	"github.com/livekit/protocol/auth"
	lkp "github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	lkmedia "github.com/livekit/server-sdk-go/v2/pkg/media"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testenv"
)

// TestExotelCallThroughTheBridge is the README's Exotel curl against make
// run's own sipp phone (deploy/sipp/exotel-phone.xml, echoing the audio it
// gets): the API answers with the contract's Exotel body once the INVITE is
// out, the INVITE carries the trunk's identity and digest, a tone an agent
// speaks in the room comes back from the phone participant (room → RTP →
// phone → RTP → room: audio both ways through the bridge), and the API's
// hang-up ends the call with a BYE.
func TestExotelCallThroughTheBridge(t *testing.T) {
	t.Parallel()
	phone := testenv.Sipp(t, testenv.SippOptions{Scenario: "../../deploy/sipp/exotel-phone.xml", Args: []string{"-rtp_echo"}})
	s := newStack(t, stackOptions{exotelPhone: phone})

	r := s.do(http.MethodPost, "/call/outbound", s.body("+918044319240", "exotel", s.exotel))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, true, r.Body["success"])
	require.Equal(t, "Outbound call triggered successfully via Exotel bridge", r.Body["message"])
	data := r.Body["data"].(map[string]any)
	room := data["room_name"].(string)
	require.Regexp(t, `^exotel-\+918044319240-[0-9a-f]{12}$`, room)
	require.Regexp(t, "^AD_", data["agent_dispatch"].(map[string]any)["id"])
	require.NotContains(t, data, "participant", "the seed's Exotel body has no participant: the phone has not answered yet")
	callID := data["call_id"].(string)

	// An agent in the room speaks a tone; the phone echoes it back.
	a := joinListener(t, s.lk, room, "phone-+918044319240")
	a.speak(440)
	a.awaitLoud(t, 25) // half a second of the tone, back from the phone
	require.InDelta(t, 440, frequency(a.loud()), 40, "the echoed audio is the agent's tone")
	waitFor(t, 10*time.Second, "call answered", func() bool { return s.call(callID).Status == dialq.StatusAnswered })

	invite := phone.Received()
	require.NotEmpty(t, invite)
	require.Contains(t, invite[0], "INVITE sip:08044319240@", "Exotel is dialled the number in national form")
	authed := ""
	for _, m := range invite {
		if strings.HasPrefix(m, "INVITE ") && strings.Contains(m, "Authorization: Digest") {
			authed = m
		}
	}
	require.NotEmpty(t, authed, "the challenged INVITE was answered with digest auth")
	require.Contains(t, authed, `username="exotel-demo"`)
	require.Contains(t, authed, `From: "08044319240" <sip:08044319240@exotel.local>`)
	require.Contains(t, authed, "m=audio ")
	require.Contains(t, authed, "a=rtpmap:8 PCMA/8000")
	require.NotContains(t, authed, "dialq-demo-sip", "the password never travels")

	h := s.do(http.MethodPost, "/call/"+callID+"/hangup", nil)
	require.Equal(t, http.StatusOK, h.Status, h.Raw)
	hd := h.Body["data"].(map[string]any)
	require.Equal(t, "completed", hd["status"])
	require.Equal(t, "hung up by API", hd["end_reason"])
	var kinds []string
	for _, e := range hd["events"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	require.Equal(t, []string{"attempt", "room_created", "agent_dispatched", "dialing", "invite_sent", "ringing", "answered", "completed"}, kinds)
	waitFor(t, 5*time.Second, "BYE at the phone", func() bool {
		for _, line := range testenv.FirstLines(phone.Received()) {
			if strings.HasPrefix(line, "BYE ") {
				return true
			}
		}
		return false
	})
}

// listener is an agent in the call's room that speaks and hears the phone.
type listener struct {
	t       *testing.T
	room    *lksdk.Room
	phone   string
	mu      sync.Mutex
	audio   []int16
	changed chan struct{}
}

func joinListener(t *testing.T, lk testenv.LiveKit, room, phone string) *listener {
	t.Helper()
	l := &listener{t: t, phone: phone, changed: make(chan struct{}, 1)}
	token, err := auth.NewAccessToken(lk.APIKey, lk.APISecret).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).
		SetIdentity(testenv.Name("agent-")).SetKind(lkp.ParticipantInfo_AGENT).ToJWT()
	require.NoError(t, err)
	l.room, err = lksdk.ConnectToRoomWithToken(lk.URL, token, &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{OnTrackSubscribed: l.subscribed},
	})
	require.NoError(t, err)
	t.Cleanup(l.room.Disconnect)
	return l
}

func (l *listener) subscribed(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if rp.Identity() != l.phone || track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	rt, err := lkmedia.NewPCMRemoteTrack(track, l, lkmedia.WithTargetSampleRate(8000))
	if err != nil {
		l.t.Errorf("decode the phone's track: %v", err)
		return
	}
	l.t.Cleanup(rt.Close)
}

// WriteSample collects the phone's audio (lkmedia.PCMRemoteTrackWriter).
func (l *listener) WriteSample(pcm msdk.PCM16Sample) error {
	l.mu.Lock()
	l.audio = append(l.audio, pcm...)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return nil
}

// Close implements lkmedia.PCMRemoteTrackWriter.
func (*listener) Close() error { return nil }

// speak publishes a tone of freq Hz until the test ends.
func (l *listener) speak(freq float64) {
	l.t.Helper()
	track, err := lkmedia.NewPCMLocalTrack(8000, 1, protologger.GetLogger())
	require.NoError(l.t, err)
	_, err = l.room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "agent", Source: lkp.TrackSource_MICROPHONE})
	require.NoError(l.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.t.Cleanup(func() { cancel(); <-done; track.Close() })
	go func() {
		defer close(done)
		phase := 0.0
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				frame := make([]int16, 160)
				for i := range frame {
					frame[i] = int16(8000 * math.Sin(phase))
					phase += 2 * math.Pi * freq / 8000
				}
				_ = track.WriteSample(frame)
			}
		}
	}()
}

// loud returns the loud 20 ms frames heard from the phone, joined.
func (l *listener) loud() []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int16
	for pcm := l.audio; len(pcm) >= 160; pcm = pcm[160:] {
		if rms(pcm[:160]) > 1000 { // the tone is at RMS ~5700; codec silence a few units
			out = append(out, pcm[:160]...)
		}
	}
	return out
}

// awaitLoud waits until frames loud 20 ms frames came from the phone.
func (l *listener) awaitLoud(t *testing.T, frames int) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for len(l.loud()) < frames*160 {
		select {
		case <-l.changed:
		case <-deadline.C:
			t.Fatalf("heard %d loud frames from the phone, want %d", len(l.loud())/160, frames)
		}
	}
}

func rms(pcm []int16) float64 {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// frequency estimates pcm's main frequency (8 kHz) from zero crossings past
// ±1000, so codec noise around zero adds none.
func frequency(pcm []int16) float64 {
	crossings, positive, started := 0, false, false
	for _, v := range pcm {
		if v > -1000 && v < 1000 {
			continue
		}
		if started && (v > 0) != positive {
			crossings++
		}
		positive, started = v > 0, true
	}
	return float64(crossings) / 2 / (float64(len(pcm)) / 8000)
}
