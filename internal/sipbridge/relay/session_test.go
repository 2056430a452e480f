package relay_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/sipbridge/relay"
	"github.com/dialq/dialq/internal/testkit/testenv"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// waitFor is how long a test waits for the session to start or end.
const waitFor = 10 * time.Second

const (
	phoneNumber = "+919876543210"
	trunkNumber = "08044319240"
	trunkID     = "ST_relaytest"
	sipHost     = "pstn.exotel.test"
)

// call is one bridged call under test: the session, the agent in its room
// and the address the phone sends its RTP to.
type call struct {
	s      *relay.Session
	agent  *testroom.Agent
	bridge *net.UDPAddr
	room   string
	lk     testenv.LiveKit
}

// startCall joins an agent to a fresh room, then starts a session for the
// phone in it; edit adjusts the session's config.
func startCall(t *testing.T, edit func(*relay.Config)) *call {
	t.Helper()
	lk := testenv.LiveKitServer(t)
	c := &call{room: testenv.Name("relay-"), lk: lk}
	identity := "phone-" + phoneNumber
	c.agent = testroom.Join(t, lk, c.room, identity)

	conn, err := relay.Listen("127.0.0.1", 21000, 21999)
	require.NoError(t, err)
	c.bridge = conn.LocalAddr().(*net.UDPAddr)
	cfg := relay.Config{
		LiveKitURL: lk.URL, APIKey: lk.APIKey, APISecret: lk.APISecret,
		Room: c.room, Identity: identity, PhoneNumber: phoneNumber, TrunkPhoneNumber: trunkNumber,
		TrunkID: trunkID, SIPHost: sipHost, CallID: "call-" + c.room,
		Log: testenv.Logger(t),
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c.s, err = relay.New(ctx, cfg, conn)
	require.NoError(t, err)
	t.Cleanup(func() { c.s.Close("test over") })
	return c
}

// awaitEnd waits for the session to end by itself and returns its reason.
func (c *call) awaitEnd(t *testing.T) string {
	t.Helper()
	select {
	case <-c.s.Done():
		return c.s.Reason()
	case <-time.After(waitFor):
		t.Fatalf("session still running after %s", waitFor)
		return ""
	}
}

// The phone joins as livekit-sip's participant would, with its attributes,
// and what it says reaches the agent.
func TestPhoneToRoom(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	p := c.agent.AwaitStatus("dialing")
	require.Equal(t, "phone-"+phoneNumber, p.Identity())
	require.Equal(t, phoneNumber, p.Name())
	require.Equal(t, lksdk.ParticipantSIP, p.Kind())
	require.Equal(t, map[string]string{
		"sip.callStatus":       "dialing",
		"sip.phoneNumber":      phoneNumber,
		"sip.trunkPhoneNumber": trunkNumber,
		"sip.trunkID":          trunkID,
		"sip.hostname":         sipHost,
		"dialq.callID":         "call-" + c.room,
	}, p.Attributes(), "the SIP dialog's ids come with the INVITE")
	pub := p.GetTrackPublication(livekit.TrackSource_MICROPHONE)
	require.NotNil(t, pub, "the phone publishes a microphone track")
	require.Equal(t, "phone", pub.Name())

	const sipCallID = "a84b4c76e66710@dialq"
	c.s.SetDialog(sipCallID, "")
	c.agent.AwaitAttributes(map[string]string{"sip.callID": sipCallID, "sip.callIDFull": sipCallID})
	c.s.Ringing()
	c.agent.AwaitStatus("ringing")

	ph := newPhone(t)
	c.s.SetDialog(sipCallID, "as83kd9bs")
	require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, 101))
	p = c.agent.AwaitAttributes(map[string]string{"sip.callStatus": "active", "sip.callTag": "as83kd9bs", "dialq.hold": "false"})
	require.NotEmpty(t, p.Attributes()["lk.sip.answerTime"])
	require.Equal(t, sipCallID, p.Attributes()["sip.callID"])

	ph.talk(c.bridge, relay.PayloadTypePCMU, 440)
	heard := c.agent.AwaitFrames("tone from the phone", 0, 25, testroom.Loud) // 500 ms
	require.InDelta(t, 440, testroom.Frequency(heard), 30, "the agent hears the phone's 440 Hz tone")
	require.Greater(t, c.s.Stats().PacketsIn, uint64(25))

	c.s.Close("phone hung up")
	require.Equal(t, "phone hung up", c.s.Reason())
	c.agent.AwaitPhoneGone()
	require.Equal(t, []string{"dialing", "ringing", "active", "hangup"}, c.agent.CallStatuses())
}

// The room hears the phone as it speaks and no more: the phone's track
// sends what the phone sent, as it arrives, and nothing while the phone is
// silent, so its audio can never queue up behind real time.
func TestPhoneToRoomAddsNothing(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	ph := newPhone(t)
	require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMA, -1))
	heard := c.agent.Heard
	// The phone speaks until the agent, once subscribed, hears it.
	tn := testroom.Tone{Freq: 440}
	for n := 0; heard() == 0; n++ {
		require.Less(t, n, int(waitFor/(20*time.Millisecond)), "the agent never heard the phone")
		ph.say(c.bridge, relay.PayloadTypePCMA, &tn, 1)
	}
	before := heard()

	ph.say(c.bridge, relay.PayloadTypePCMA, &tn, 40)
	ph.lose(10)
	ph.say(c.bridge, relay.PayloadTypePCMA, &tn, 40)
	const sent = 80 * 160
	const inFlight = 10 * 160 // of the frames before, not yet heard then
	c.agent.AwaitFrames("the phone's audio", before, sent/160-10, func([]int16) bool { return true })
	require.Never(t, func() bool { return heard()-before > sent+inFlight }, 500*time.Millisecond, 20*time.Millisecond,
		"the agent hears no more than the phone said")
	require.InDelta(t, 440, testroom.Frequency(c.agent.AwaitFrames("tone from the phone", 0, 50, testroom.Loud)), 30) // 1 s
}

// What the agent says reaches the phone as continuous 20 ms G.711 RTP, in
// the codec the phone's answer chose.
func TestRoomToPhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		pt   uint8
	}{
		{"PCMU", relay.PayloadTypePCMU},
		{"PCMA", relay.PayloadTypePCMA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startCall(t, nil)
			c.agent.Speak(440)
			ph := newPhone(t)
			require.NoError(t, c.s.Answered(ph.addr(), tc.pt, -1))

			first := ph.receive(2 * time.Second)
			require.True(t, first.Marker, "the first packet starts a talkspurt")
			prev := first
			var loud []int16
			for n := 0; len(loud) < 50*160; n++ {
				require.Less(t, n, 500, "no tone from the agent in 10 s of RTP")
				pkt := ph.receive(time.Second)
				require.Equal(t, tc.pt, pkt.PayloadType)
				require.Len(t, pkt.Payload, 160)
				require.Equal(t, first.SSRC, pkt.SSRC)
				require.Equal(t, prev.SequenceNumber+1, pkt.SequenceNumber, "sequence numbers are continuous")
				// A frame the pacer skipped on a stalled host still counts as
				// time, so the timestamp may advance by several frames.
				step := pkt.Timestamp - prev.Timestamp
				require.True(t, step >= 160 && step%160 == 0 && step <= 160*25,
					"timestamps advance 160 per frame, skipped frames included (got %d)", step)
				require.False(t, pkt.Marker)
				if pcm := decode(tc.pt, pkt.Payload); testroom.Loud(pcm) {
					loud = append(loud, pcm...)
				}
				prev = pkt
			}
			require.InDelta(t, 440, testroom.Frequency(loud), 30, "the phone hears the agent's 440 Hz tone")
			st := c.s.Stats()
			require.GreaterOrEqual(t, st.PacketsOut, uint64(50))
			t.Logf("stats: %+v", st)
		})
	}
}

// The bridge sends to the port the phone's RTP comes from when that differs
// from the one in its SDP answer (symmetric RTP), and then hears only that
// port.
func TestLatchesOntoPhonePort(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	sdp, actual := newPhone(t), newPhone(t)
	require.NoError(t, c.s.Answered(sdp.addr(), relay.PayloadTypePCMU, -1))
	sdp.receive(2 * time.Second) // until the phone speaks, the SDP's address

	actual.talk(c.bridge, relay.PayloadTypePCMU, 440)
	actual.receive(2 * time.Second)
	c.agent.AwaitFrames("tone from the phone", 0, 10, testroom.Loud) // 200 ms
	drain(sdp)
	require.True(t, sdp.quiet(200*time.Millisecond), "nothing goes to the SDP's port any more")

	dropped := c.s.Stats().PacketsDropped
	sdp.send(c.bridge, rtp.Header{PayloadType: 0, SequenceNumber: 1, Timestamp: 1}, make([]byte, 160))
	require.Eventually(t, func() bool { return c.s.Stats().PacketsDropped > dropped }, 2*time.Second, 10*time.Millisecond,
		"a packet from the other port is dropped")
}

// drain reads what already reached the phone and returns the last packet.
func drain(ph *phone) *rtp.Packet {
	var last *rtp.Packet
	for {
		pkt, err := ph.tryReceive(60 * time.Millisecond)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return last
		}
		require.NoError(ph.t, err)
		last = pkt
	}
}

// The agent learns of the answer, hold and resume on sip_bridge_events and
// from dialq.hold; the phone hears nothing while on hold and the stream
// resumes where it was.
func TestCallEvents(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	ph := newPhone(t)
	require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, -1))
	c.agent.AwaitEvents("call_answered")
	first := ph.receive(2 * time.Second)

	c.s.Hold()
	c.agent.AwaitEvents("call_answered", "call_hold")
	c.agent.AwaitAttributes(map[string]string{"sip.callStatus": "active", "dialq.hold": "true"})
	last := drain(ph)
	if last == nil {
		// On a busy host the hold can come before a second frame went out.
		last = first
	}
	held := time.Now()
	require.True(t, ph.quiet(300*time.Millisecond), "no RTP to the phone on hold")

	c.s.Resume()
	c.agent.AwaitEvents("call_answered", "call_hold", "call_resume")
	c.agent.AwaitAttributes(map[string]string{"dialq.hold": "false"})
	pkt := ph.receive(2 * time.Second)
	require.True(t, pkt.Marker, "the first packet after hold starts a talkspurt")
	require.Equal(t, last.SequenceNumber+1, pkt.SequenceNumber, "no gap in sequence numbers")
	frames := uint32(time.Since(held) / (20 * time.Millisecond))
	require.GreaterOrEqual(t, pkt.Timestamp-last.Timestamp, 160*(frames-5), "timestamps went on with the clock")
}

// An agent that joins after the answer is told call_answered when it joins,
// one that joins on hold call_answered and call_hold, and each reads
// dialq.hold; the ones there all along get each event once.
func TestEventsForLateJoiners(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	phoneID := "phone-" + phoneNumber
	joined := testroom.Join(t, c.lk, c.room, phoneID) // before the answer, with c.agent
	ph := newPhone(t)
	require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, -1))
	c.agent.AwaitEvents("call_answered")

	afterAnswer := testroom.Join(t, c.lk, c.room, phoneID)
	afterAnswer.AwaitEvents("call_answered")
	afterAnswer.AwaitAttributes(map[string]string{"sip.callStatus": "active", "dialq.hold": "false"})

	c.s.Hold()
	c.agent.AwaitEvents("call_answered", "call_hold")
	onHold := testroom.Join(t, c.lk, c.room, phoneID)
	onHold.AwaitEvents("call_answered", "call_hold")
	onHold.AwaitAttributes(map[string]string{"sip.callStatus": "active", "dialq.hold": "true"})

	c.s.Resume()
	all := []*testroom.Agent{c.agent, joined, afterAnswer, onHold}
	for _, a := range all {
		a.AwaitEvents("call_answered", "call_hold", "call_resume")
	}
	c.s.Close("phone hung up")
	for _, a := range all {
		a.AwaitPhoneGone()
		require.Equal(t, []string{"call_answered", "call_hold", "call_resume"}, a.Events(), "each event once")
	}
}

// Agents that join just as the call is answered, put on hold or resumed
// get what happened to it once each, whether the event or their catch-up
// reached them first: a broadcast would reach an agent that livekit-server
// holds as joining, and its catch-up a second time.
func TestEventsOnceWhileJoining(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	ph := newPhone(t)
	hold := func(f func()) func() error { return func() error { f(); return nil } }
	events := []func() error{
		func() error { return c.s.Answered(ph.addr(), relay.PayloadTypePCMU, -1) },
		hold(c.s.Hold), hold(c.s.Resume), hold(c.s.Hold), hold(c.s.Resume), hold(c.s.Hold),
	}
	agents := []*testroom.Agent{c.agent}
	for i, event := range events {
		// Each event goes out at a point of an agent's join, a little later
		// each time: before livekit-server has it, while it is joining, or
		// once the bridge saw it. The delay places the event; nothing is
		// awaited with it.
		done := make(chan error, 1)
		go func() {
			time.Sleep(time.Duration(i) * 25 * time.Millisecond)
			done <- event()
		}()
		agents = append(agents, testroom.Join(t, c.lk, c.room, "phone-"+phoneNumber))
		require.NoError(t, <-done)
	}
	for _, a := range agents {
		a.AwaitAttributes(map[string]string{"dialq.hold": "true"})
		a.AwaitEventsWhere("answered and on hold", func(events []string) bool {
			answered, held, _ := toldOf(events)
			return answered && held
		})
	}
	c.s.Close("phone hung up")
	for i, a := range agents {
		a.AwaitPhoneGone()
		requireToldOnce(t, a.Events(), fmt.Sprintf("agent %d", i))
	}
	require.Equal(t, []string{"call_answered", "call_hold", "call_resume", "call_hold", "call_resume", "call_hold"},
		agents[0].Events(), "the agent there all along")
}

// requireToldOnce fails unless events tell the call answered and on hold,
// each event telling something new: nothing twice, nothing missed.
func requireToldOnce(t *testing.T, events []string, who string) {
	t.Helper()
	answered, held, redundant := toldOf(events)
	require.Equal(t, -1, redundant, "%s: an event of %v tells nothing new", who, events)
	require.True(t, answered && held, "%s: events %v do not end answered and on hold", who, events)
}

// toldOf replays events from a call known nothing of: whether they tell it
// answered and on hold, and the index of the first event that told nothing
// new (-1 if none).
func toldOf(events []string) (answered, held bool, redundant int) {
	redundant = -1
	for i, e := range events {
		changed := false
		switch e {
		case "call_answered":
			changed, answered = !answered, true
		case "call_hold":
			changed, held = answered && !held, true
		case "call_resume":
			changed, held = answered && held, false
		}
		if !changed && redundant < 0 {
			redundant = i
		}
	}
	return answered, held, redundant
}

// Keys pressed on the phone reach the room as SipDTMF data packets, once
// each.
func TestDTMF(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	ph := newPhone(t)
	require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, 101))
	ph.key(c.bridge, 101, 1)
	ph.key(c.bridge, 101, 11)
	c.agent.AwaitDigits("1#")
	require.Equal(t, "1#", c.s.Stats().DTMF)
}

// A session ends by itself when the phone falls silent, when the call
// reaches its max duration and when the room or the agent goes.
func TestSessionEnds(t *testing.T) {
	t.Parallel()
	t.Run("no RTP", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, func(cfg *relay.Config) { cfg.NoRTPTimeout = time.Second })
		ph := newPhone(t)
		answered := time.Now()
		require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, -1))
		c.agent.AwaitStatus("active")
		require.Equal(t, relay.ReasonNoRTP, c.awaitEnd(t))
		require.GreaterOrEqual(t, time.Since(answered), time.Second)
		c.agent.AwaitPhoneGone()
		statuses := c.agent.CallStatuses()
		require.Equal(t, "hangup", statuses[len(statuses)-1], "statuses %v", statuses)
	})
	t.Run("max duration", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, func(cfg *relay.Config) {
			cfg.NoRTPTimeout = time.Second
			cfg.MaxDuration = 1500 * time.Millisecond
		})
		ph := newPhone(t)
		require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, -1))
		ph.talk(c.bridge, relay.PayloadTypePCMU, 440)
		require.Equal(t, relay.ReasonMaxDuration, c.awaitEnd(t))
		c.agent.AwaitPhoneGone()
	})
	t.Run("agent left", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, nil)
		ph := newPhone(t)
		require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, -1))
		c.agent.AwaitStatus("active")
		c.agent.Leave()
		require.Equal(t, relay.ReasonAgentLeft, c.awaitEnd(t))
	})
	t.Run("room deleted", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, nil)
		ph := newPhone(t)
		require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, -1))
		c.agent.AwaitStatus("active")
		rooms := lksdk.NewRoomServiceClient(c.lk.URL, c.lk.APIKey, c.lk.APISecret)
		_, err := rooms.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: c.room})
		require.NoError(t, err)
		require.Equal(t, relay.ReasonRoomClosed, c.awaitEnd(t))
	})
	t.Run("closed before the answer", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, nil)
		c.agent.AwaitStatus("dialing")
		c.s.Ringing()
		c.agent.AwaitStatus("ringing")
		c.s.Close("busy")
		require.Equal(t, "busy", c.s.Reason())
		c.agent.AwaitPhoneGone()
		require.Equal(t, []string{"dialing", "ringing"}, c.agent.CallStatuses(), "like livekit-sip: no hangup for a call never answered")
		require.ErrorIs(t, c.s.Answered(newPhone(t).addr(), relay.PayloadTypePCMU, -1), relay.ErrClosed)
	})
}

func ExampleListen() {
	conn, err := relay.Listen("127.0.0.1", 21000, 21999)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	fmt.Println(conn.LocalAddr().(*net.UDPAddr).Port%2 == 0)
	// Output: true
}
