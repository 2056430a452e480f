package rtpbridge_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	msdk "github.com/livekit/media-sdk"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	lkmedia "github.com/livekit/server-sdk-go/v2/pkg/media"

	"github.com/dialq/dialq/internal/testenv"
)

// waitFor is how long a test waits for something the room should show.
const waitFor = 10 * time.Second

// agent stands in for the voice agent: a participant of kind AGENT in the
// call's room that hears the phone, can talk to it and collects the data
// packets the bridge sends.
type agent struct {
	t     *testing.T
	room  *lksdk.Room
	phone string // the phone participant's identity

	changed chan struct{} // something about the phone changed; capacity 1

	mu     sync.Mutex
	events []string // "event" of each message on sip_bridge_events
	digits string   // SipDTMF digits received
	audio  []int16  // the phone's audio, 8 kHz
	seen   bool     // the phone has been in the room
	// statuses is every sip.callStatus the phone showed, in order.
	statuses []string
}

// joinAgent joins room as an agent listening for the participant phone.
func joinAgent(t *testing.T, lk testenv.LiveKit, room, phone string) *agent {
	t.Helper()
	a := &agent{t: t, phone: phone, changed: make(chan struct{}, 1)}
	token, err := auth.NewAccessToken(lk.APIKey, lk.APISecret).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).
		SetIdentity(testenv.Name("agent-")).
		SetKind(livekit.ParticipantInfo_AGENT).
		ToJWT()
	require.NoError(t, err)
	cb := &lksdk.RoomCallback{
		OnParticipantConnected:    func(p *lksdk.RemoteParticipant) { a.noteStatus(p) },
		OnParticipantDisconnected: func(*lksdk.RemoteParticipant) { a.poke() },
		ParticipantCallback: lksdk.ParticipantCallback{
			OnAttributesChanged: func(_ map[string]string, p lksdk.Participant) { a.noteStatus(p) },
			OnTrackSubscribed:   a.trackSubscribed,
			OnDataPacket:        a.dataPacket,
		},
	}
	a.room, err = lksdk.ConnectToRoomWithToken(lk.URL, token, cb)
	require.NoError(t, err)
	t.Cleanup(a.room.Disconnect)
	return a
}

func (a *agent) poke() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// noteStatus records the phone's sip.callStatus if p is the phone and it
// changed.
func (a *agent) noteStatus(p lksdk.Participant) {
	if p.Identity() == a.phone {
		// Read under the lock: callbacks run on several goroutines, and a
		// status read before the lock could be recorded after a newer one.
		a.mu.Lock()
		status := p.Attributes()["sip.callStatus"]
		a.seen = true
		if n := len(a.statuses); n == 0 || a.statuses[n-1] != status {
			a.statuses = append(a.statuses, status)
		}
		a.mu.Unlock()
	}
	a.poke()
}

// callStatuses returns every sip.callStatus the phone showed so far.
func (a *agent) callStatuses() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.statuses)
}

func (a *agent) trackSubscribed(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if rp.Identity() != a.phone || track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	rt, err := lkmedia.NewPCMRemoteTrack(track, &audioSink{a: a}, lkmedia.WithTargetSampleRate(8000))
	if err != nil {
		a.t.Errorf("decode the phone's track: %v", err)
		return
	}
	a.t.Cleanup(rt.Close)
	a.poke()
}

func (a *agent) dataPacket(p lksdk.DataPacket, _ lksdk.DataReceiveParams) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch p := p.(type) {
	case *lksdk.UserDataPacket:
		if p.Topic != "sip_bridge_events" {
			return
		}
		var msg struct{ Event string }
		if err := json.Unmarshal(p.Payload, &msg); err != nil {
			a.t.Errorf("call event %q is not JSON: %v", p.Payload, err)
			return
		}
		a.events = append(a.events, msg.Event)
	case *livekit.SipDTMF:
		a.digits += p.Digit
	}
	a.poke()
}

// audioSink collects the phone's audio as the agent hears it.
type audioSink struct{ a *agent }

func (s *audioSink) WriteSample(pcm msdk.PCM16Sample) error {
	s.a.mu.Lock()
	s.a.audio = append(s.a.audio, pcm...)
	s.a.mu.Unlock()
	s.a.poke()
	return nil
}

func (*audioSink) Close() error { return nil }

// await waits until cond holds, checking it again whenever something
// reaches the agent.
func (a *agent) await(what string, cond func() bool) {
	a.t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-a.changed:
		case <-deadline.C:
			a.t.Fatalf("agent: gave up waiting for %s after %s", what, waitFor)
		}
	}
}

// phoneParticipant returns the phone participant as the agent sees it, nil
// if it is not in the room.
func (a *agent) phoneParticipant() *lksdk.RemoteParticipant {
	p := a.room.GetParticipantByIdentity(a.phone)
	if p != nil {
		a.mu.Lock()
		a.seen = true
		a.mu.Unlock()
	}
	return p
}

// awaitStatus waits until the phone participant shows sip.callStatus status
// and returns it.
func (a *agent) awaitStatus(status string) *lksdk.RemoteParticipant {
	a.t.Helper()
	var p *lksdk.RemoteParticipant
	a.await("sip.callStatus "+status, func() bool {
		p = a.phoneParticipant()
		if p == nil {
			return false
		}
		a.noteStatus(p)
		return p.Attributes()["sip.callStatus"] == status
	})
	return p
}

// awaitPhoneGone waits until the phone participant, once seen, left.
func (a *agent) awaitPhoneGone() {
	a.t.Helper()
	a.await("the phone to leave", func() bool {
		p := a.phoneParticipant()
		a.mu.Lock()
		defer a.mu.Unlock()
		return p == nil && a.seen
	})
}

// awaitEvents waits for the call events want, in order.
func (a *agent) awaitEvents(want ...string) {
	a.t.Helper()
	a.await("call events", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.events) >= len(want)
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(a.t, want, a.events)
}

// awaitDigits waits for the DTMF digits want.
func (a *agent) awaitDigits(want string) {
	a.t.Helper()
	a.await("DTMF "+want, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.digits) >= len(want)
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(a.t, want, a.digits)
}

// awaitTone waits until the agent heard at least d of loud audio from the
// phone and returns it.
func (a *agent) awaitTone(d time.Duration) []int16 {
	a.t.Helper()
	need := int(d.Seconds() * 8000)
	var loud []int16
	a.await("tone from the phone", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		loud = loudFrames(a.audio)
		return len(loud) >= need
	})
	return loud
}

// speak publishes an audio track on which the agent says a tone of freq Hz
// until the test ends.
func (a *agent) speak(freq float64) {
	a.t.Helper()
	track, err := lkmedia.NewPCMLocalTrack(8000, 1, protologger.GetLogger())
	require.NoError(a.t, err)
	_, err = a.room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "agent", Source: livekit.TrackSource_MICROPHONE,
	})
	require.NoError(a.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.t.Cleanup(func() { cancel(); <-done; track.Close() })
	go func() {
		defer close(done)
		tn := tone{freq: freq}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = track.WriteSample(tn.next(160))
			}
		}
	}()
}
