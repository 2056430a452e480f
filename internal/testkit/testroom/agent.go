package testroom

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

	"github.com/dialq/dialq/internal/testkit/testenv"
)

// AwaitTimeout is how long each of an Agent's Await methods waits before it
// fails the test.
const AwaitTimeout = 15 * time.Second

// Agent is a participant of kind AGENT in a call's room that watches the
// phone participant, hears it, can talk to it, and collects what the bridge
// sends the room: the phone's sip.callStatus attribute, the call events on
// the sip_bridge_events topic and the DTMF digits. It is safe for
// concurrent use.
type Agent struct {
	t     testing.TB
	room  *lksdk.Room
	phone string // the phone participant's identity

	changed chan struct{} // something reached the agent; capacity 1

	mu       sync.Mutex
	statuses []string // every sip.callStatus the phone showed, in order
	events   []string // "event" of each message on sip_bridge_events
	digits   string   // SipDTMF digits received
	audio    []int16  // the phone's audio, at SampleRate
	seen     bool     // the phone has been in the room
}

// Join joins room on lk as an agent watching the participant with identity
// phone, and leaves it when the test ends.
func Join(t testing.TB, lk testenv.LiveKit, room, phone string) *Agent {
	t.Helper()
	a := &Agent{t: t, phone: phone, changed: make(chan struct{}, 1)}
	token, err := auth.NewAccessToken(lk.APIKey, lk.APISecret).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).
		SetIdentity(testenv.Name("agent-")).
		SetKind(livekit.ParticipantInfo_AGENT).
		ToJWT()
	require.NoError(t, err)
	cb := &lksdk.RoomCallback{
		OnParticipantConnected:    func(p *lksdk.RemoteParticipant) { a.noteStatus(p) },
		OnParticipantDisconnected: func(p *lksdk.RemoteParticipant) { a.noteStatus(p) },
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

// Leave disconnects the agent from the room, as an agent does when it is
// done with the call.
func (a *Agent) Leave() { a.room.Disconnect() }

func (a *Agent) poke() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// noteStatus records the phone's sip.callStatus if p is the phone and it
// changed. The SDK's callbacks and the awaiting test both call it; it reads
// the status under the lock, so that a status read before another caller
// noted a newer one is not noted after it.
func (a *Agent) noteStatus(p lksdk.Participant) {
	if p.Identity() == a.phone {
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

func (a *Agent) trackSubscribed(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if rp.Identity() != a.phone || track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	rt, err := lkmedia.NewPCMRemoteTrack(track, &audioSink{a: a}, lkmedia.WithTargetSampleRate(SampleRate))
	if err != nil {
		a.t.Errorf("decode the phone's track: %v", err)
		return
	}
	a.t.Cleanup(rt.Close)
	a.poke()
}

func (a *Agent) dataPacket(p lksdk.DataPacket, _ lksdk.DataReceiveParams) {
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
		a.mu.Lock()
		a.events = append(a.events, msg.Event)
		a.mu.Unlock()
	case *livekit.SipDTMF:
		a.mu.Lock()
		a.digits += p.Digit
		a.mu.Unlock()
	default:
		return
	}
	a.poke()
}

// audioSink collects the phone's audio as the agent hears it.
type audioSink struct{ a *Agent }

func (s *audioSink) WriteSample(pcm msdk.PCM16Sample) error {
	s.a.mu.Lock()
	s.a.audio = append(s.a.audio, pcm...)
	s.a.mu.Unlock()
	s.a.poke()
	return nil
}

func (*audioSink) Close() error { return nil }

// CallStatuses returns every sip.callStatus the phone showed so far, in
// order, without repeats. livekit-server may pass over a status that lasted
// only a moment.
func (a *Agent) CallStatuses() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.statuses)
}

// Heard returns how many samples of the phone's audio the agent has heard.
func (a *Agent) Heard() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.audio)
}

// await waits until cond holds, checking it again whenever something
// reaches the agent, and fails the test after AwaitTimeout.
func (a *Agent) await(what string, cond func() bool) {
	a.t.Helper()
	deadline := time.NewTimer(AwaitTimeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-a.changed:
		case <-deadline.C:
			a.t.Fatalf("agent: gave up waiting for %s after %s", what, AwaitTimeout)
		}
	}
}

// phoneParticipant returns the phone participant as the agent sees it, nil
// if it is not in the room.
func (a *Agent) phoneParticipant() *lksdk.RemoteParticipant {
	p := a.room.GetParticipantByIdentity(a.phone)
	if p != nil {
		a.mu.Lock()
		a.seen = true
		a.mu.Unlock()
	}
	return p
}

// AwaitStatus waits until the phone participant shows sip.callStatus status
// and returns it.
func (a *Agent) AwaitStatus(status string) *lksdk.RemoteParticipant {
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

// AwaitAttributes waits until the phone participant shows every attribute
// of want with its value, and returns it.
func (a *Agent) AwaitAttributes(want map[string]string) *lksdk.RemoteParticipant {
	a.t.Helper()
	quoted, _ := json.Marshal(want)
	var p *lksdk.RemoteParticipant
	a.await("phone attributes "+string(quoted), func() bool {
		p = a.phoneParticipant()
		if p == nil {
			return false
		}
		a.noteStatus(p)
		attrs := p.Attributes()
		for k, v := range want {
			if attrs[k] != v {
				return false
			}
		}
		return true
	})
	return p
}

// AwaitCallStatus waits until the phone participant has shown
// sip.callStatus status, whether it is still in the room or not.
func (a *Agent) AwaitCallStatus(status string) {
	a.t.Helper()
	a.await("sip.callStatus "+status+" shown", func() bool {
		if p := a.phoneParticipant(); p != nil {
			a.noteStatus(p)
		}
		return slices.Contains(a.CallStatuses(), status)
	})
}

// AwaitPhoneGone waits until the phone participant, once seen, left.
func (a *Agent) AwaitPhoneGone() {
	a.t.Helper()
	a.await("the phone to leave", func() bool {
		p := a.phoneParticipant()
		a.mu.Lock()
		defer a.mu.Unlock()
		return p == nil && a.seen
	})
}

// AwaitEvents waits until as many call events as want came, and fails the
// test unless they are want, in order.
func (a *Agent) AwaitEvents(want ...string) {
	a.t.Helper()
	quoted, _ := json.Marshal(want)
	a.await("call events "+string(quoted), func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.events) >= len(want)
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(a.t, want, a.events)
}

// AwaitEventsWhere waits until the call events that came so far, in
// order, satisfy ok, and returns them.
func (a *Agent) AwaitEventsWhere(what string, ok func(events []string) bool) []string {
	a.t.Helper()
	var events []string
	a.await("call events: "+what, func() bool {
		events = a.Events()
		return ok(events)
	})
	return events
}

// Events returns the call events that came so far, in order.
func (a *Agent) Events() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.events)
}

// AwaitDigits waits until as many DTMF digits as want came, and fails the
// test unless they are want.
func (a *Agent) AwaitDigits(want string) {
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

// AwaitFrames waits until at least n 20 ms frames of the phone's audio,
// counted from sample from on, satisfy keep, and returns them joined.
func (a *Agent) AwaitFrames(what string, from, n int, keep func(frame []int16) bool) []int16 {
	a.t.Helper()
	var got []int16
	a.await(what, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		got = keepFrames(a.audio[min(from, len(a.audio)):], keep)
		return len(got) >= n*FrameSamples
	})
	return got
}

// SendDTMF publishes digit (its RFC 4733 event code and its character) to
// the room as a SipDTMF data packet, as an agent presses a key of the
// phone (livekit-agents' publish_dtmf).
func (a *Agent) SendDTMF(code uint32, digit string) {
	a.t.Helper()
	require.NoError(a.t, a.room.LocalParticipant.PublishDTMF(code, digit))
}

// Speak publishes an audio track on which the agent says a Tone of freq Hz
// until stop is called or the test ends; the track then carries silence.
func (a *Agent) Speak(freq float64) (stop func()) {
	a.t.Helper()
	track, err := lkmedia.NewPCMLocalTrack(SampleRate, 1, protologger.GetLogger())
	require.NoError(a.t, err)
	_, err = a.room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "agent", Source: livekit.TrackSource_MICROPHONE,
	})
	require.NoError(a.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	stop = func() { cancel(); <-done }
	a.t.Cleanup(func() { stop(); track.Close() })
	go func() {
		defer close(done)
		tone := Tone{Freq: freq}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = track.WriteSample(tone.Next(FrameSamples))
			}
		}
	}()
	return stop
}
