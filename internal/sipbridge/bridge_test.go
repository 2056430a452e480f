package sipbridge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/testkit/testclock"
	"github.com/dialq/dialq/internal/testkit/testenv"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// dialerSteps are the events the dialer records before it hands a call to
// the bridge.
var dialerSteps = []string{"queued", "attempt", "room_created", "agent_dispatched", "dialing"}

func steps(kinds ...string) []string { return append(append([]string(nil), dialerSteps...), kinds...) }

// TestAnsweredCallCarriesAudioBothWays is a bridged call on a good day:
// Exotel (sipp) challenges the INVITE and checks the digest, rings, answers
// with PCMA, and hangs up after a while. In between, audio flows both ways:
// sipp runs with -rtp_echo, so the tone the agent speaks comes back to the
// room only if it reached sipp as RTP in the codec of the answer; then sipp
// plays recorded speech, which the agent must hear as well.
func TestAnsweredCallCarriesAudioBothWays(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "digest_pcma_audio_bye.xml", "tcp", nil, "-rtp_echo")
	h := newHarness(t, nil)
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c)
	stopTone := ag.Speak(440) // agents greet first: it talks before the answer

	require.NoError(t, h.place(c))
	placed := h.row(c)
	require.NotEmpty(t, placed.SIPCallID, "Dial returns once the INVITE is out and recorded")
	require.True(t, placed.Placed(), "a request waiting on the call answers now")

	h.notes.await(t, c.ID, dialq.StatusAnswered)
	p := ag.AwaitStatus("active")
	require.Equal(t, "phone-"+callee, p.Identity())
	require.Equal(t, lksdk.ParticipantSIP, p.Kind())
	require.Equal(t, callee, p.Attributes()["sip.phoneNumber"])
	require.Equal(t, callerID, p.Attributes()["sip.trunkPhoneNumber"])
	require.Equal(t, c.ID.String(), p.Attributes()["dialq.callID"])
	ag.AwaitEvents("call_answered")
	require.Equal(t, 1, h.m.Stats().Live)

	// Room → phone: the agent hears its own tone back through the phone's
	// track, echoed by sipp.
	echo := ag.AwaitFrames("the agent's tone echoed by the phone", 0, 15, func(f []int16) bool {
		return testroom.Loud(f) && testroom.ToneShare(f, 440) > 0.6
	})
	require.InDelta(t, 440, testroom.FrameFrequency(echo), 30, "the echo is the agent's 440 Hz tone")
	stopTone()

	// Phone → room: the recording sipp plays is speech, well above silence
	// and not the tone. (It reaches the room interleaved with the echo of
	// the silence dialq now sends, twice the audio the track plays, so the
	// room hears it ever later: mostly its first, quieter second before
	// sipp hangs up.)
	ag.AwaitFrames("the phone's recorded speech", ag.Heard(), 15, func(f []int16) bool {
		return testroom.RMS(f) > testroom.AudibleRMS && testroom.ToneShare(f, 440) < 0.3
	})

	h.notes.await(t, c.ID, dialq.StatusCompleted)
	requireHungUp(t, ag)
	s.RequirePassed(t)

	// The INVITE as Exotel got it: first without credentials, then with the
	// digest that sipp's verifyauth accepted.
	trunk := fmt.Sprintf("%s:%d", s.Host, s.Port)
	received := s.Received()
	require.Equal(t, []string{
		"INVITE sip:" + dialled + "@" + trunk + " SIP/2.0",
		"ACK sip:" + dialled + "@" + trunk + " SIP/2.0",
		"INVITE sip:" + dialled + "@" + trunk + " SIP/2.0",
		"ACK sip:" + trunk + ";transport=TCP SIP/2.0",
		"SIP/2.0 200 OK", // to the BYE
	}, testenv.FirstLines(received))
	require.Empty(t, header(received[0], "Authorization"))
	inv := received[2]
	require.Regexp(t, `^"`+callerID+`" <sip:`+callerID+`@127\.0\.0\.1>;tag=\S+$`, header(inv, "From"))
	require.Equal(t, "<sip:"+dialled+"@"+trunk+">", header(inv, "To"))
	require.Equal(t, c.ID.String(), header(inv, "X-Dialq-Call-Id"))
	auth := header(inv, "Authorization")
	for _, field := range []string{`username="` + sipUser + `"`, `realm="exotel.test"`,
		`nonce="4f3c2b1a0e9d8c7b"`, `uri="sip:` + dialled + "@" + trunk + `"`} {
		require.Contains(t, auth, field)
	}
	require.Regexp(t, `^Digest .*response="[0-9a-f]{32}"`, auth)
	require.NotContains(t, s.Read("messages.log"), sipPassword)
	requireOffer(t, h, c, body(inv))
	answer := slices.IndexFunc(s.Sent(), func(m string) bool { return strings.HasPrefix(m, "SIP/2.0 200 OK") })
	require.GreaterOrEqual(t, answer, 0)
	require.Contains(t, body(s.Sent()[answer]), "m=audio "+strconv.Itoa(s.MediaPort)+" RTP/AVP 8 101",
		"sipp answered PCMA")

	row := h.row(c)
	require.Equal(t, dialq.StatusCompleted, row.Status)
	require.Equal(t, "phone hung up", row.EndReason)
	require.Empty(t, row.FailureReason)
	require.Equal(t, header(inv, "Call-ID"), row.SIPCallID)
	require.Equal(t, p.SID(), row.ParticipantSID)
	require.Equal(t, "phone-"+callee, row.ParticipantIdentity)
	require.Equal(t, 200, row.SIPStatusCode)
	require.NotNil(t, row.AnsweredAt)
	require.NotNil(t, row.EndedAt)
	require.False(t, row.EndedAt.Before(*row.AnsweredAt))

	kinds, ev := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "answered", "completed"), kinds)
	n := len(dialerSteps)
	require.Equal(t, row.SIPCallID, ev[n].Detail)
	require.Equal(t, "180 Ringing", ev[n+1].Detail)
	require.Equal(t, p.SID(), ev[n+2].Detail)
	require.Equal(t, "phone hung up", ev[n+3].Detail)
	// The dialer announces dialing once Dial returns; the bridge the rest.
	require.Equal(t, []dialq.CallStatus{dialq.StatusRinging, dialq.StatusAnswered, dialq.StatusCompleted},
		h.notes.of(c.ID))
	h.settle()

	// The Manager's counters hold the ended call whole: the speech sipp
	// played (~50 packets a second) and the frames dialq paced to it.
	st := h.m.Stats()
	require.Zero(t, st.Live)
	require.Equal(t, 1, st.Ended)
	require.Greater(t, st.PacketsIn, uint64(25), "packets from the phone")
	require.Greater(t, st.PacketsOut, uint64(25), "frames to the phone")
	require.LessOrEqual(t, st.LateFrames, st.PacketsOut)
}

// requireHungUp waits until the agent saw the phone hung up, and checks it
// was active before, as livekit-sip's phone participant shows an answered
// call that ends. (The earlier statuses may come too quickly for
// livekit-server to show each.) It does not wait for the phone to leave:
// the phone's room connection closes right behind its leave request, and
// when livekit-server is writing to it at that moment (the hangup status
// it just confirmed) the connection is reset and the server never reads
// the leave; the phone then stays listed until the room goes (a fault of
// relay's leave with this SDK, not of the bridge).
func requireHungUp(t *testing.T, ag *testroom.Agent) {
	t.Helper()
	ag.AwaitCallStatus("hangup")
	statuses := ag.CallStatuses()
	require.GreaterOrEqual(t, len(statuses), 2, "statuses %v", statuses)
	require.Equal(t, []string{"active", "hangup"}, statuses[len(statuses)-2:], "statuses %v", statuses)
}

// requireOffer checks the SDP of dialq's INVITE: G.711 both ways and
// telephone-event, on an RTP port of the trunk's range at its media IP.
func requireOffer(t *testing.T, h *harness, c *dialq.Call, sdp string) {
	t.Helper()
	tr, err := h.db.SIPTrunkConfig(context.Background(), c.TrunkID)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(sdp), "\n")
	require.Contains(t, lines, "c=IN IP4 127.0.0.1")
	m := regexp.MustCompile(`(?m)^m=audio (\d+) RTP/AVP 0 8 101$`).FindStringSubmatch(sdp)
	require.NotNil(t, m, sdp)
	port, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	require.True(t, port >= tr.RTPPortMin && port <= tr.RTPPortMax && port%2 == 0,
		"RTP port %d is an even port of the trunk's range %d-%d", port, tr.RTPPortMin, tr.RTPPortMax)
	for _, line := range []string{"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=sendrecv"} {
		require.Contains(t, lines, line)
	}
}

// TestRefusedCallsFail: the callee's side refuses the call with a final
// response; the row fails with the reason that response means and keeps the
// SIP code, and the phone participant leaves the room.
func TestRefusedCallsFail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   int
		status string
		reason dialq.FailureReason
	}{
		{486, "Busy Here", dialq.ReasonBusy},
		{603, "Decline", dialq.ReasonRejected},
		{404, "Not Found", dialq.ReasonUnreachable},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			t.Parallel()
			s := startSipp(t, "reject.xml.tmpl", "tcp", struct {
				Code   int
				Reason string
			}{tc.code, tc.status})
			h := newHarness(t, nil)
			c := h.newCall(s, "tcp")
			ag := h.joinAgent(c)

			require.NoError(t, h.place(c), "the INVITE went out: the outcome is the bridge's to record")
			status := dialq.Failed(dialq.Failure{Reason: tc.reason}).Status
			h.notes.await(t, c.ID, status)
			h.awaitPhoneLeft(c)
			require.NotContains(t, ag.CallStatuses(), "hangup", "like livekit-sip: no hangup status for a call never answered")
			s.RequirePassed(t) // sipp got the ACK of its refusal

			row := h.row(c)
			require.Equal(t, status, row.Status)
			require.Equal(t, dialq.EndedByPhone, row.EndedBy)
			require.Equal(t, tc.reason, row.FailureReason)
			require.Equal(t, tc.code, row.SIPStatusCode)
			require.Equal(t, tc.status, row.SIPStatus)
			require.Contains(t, row.LastError, fmt.Sprintf("SIP %d %s", tc.code, tc.status))
			require.NotNil(t, row.EndedAt)
			require.Nil(t, row.AnsweredAt)
			kinds, _ := h.timeline(c)
			require.Equal(t, steps("invite_sent", string(status)), kinds)
			require.Equal(t, []dialq.CallStatus{status}, h.notes.of(c.ID))
			h.settle()
		})
	}
}

// TestNoAnswerCancels: the phone rings past the ring time; dialq cancels
// the INVITE and the call fails as no_answer.
func TestNoAnswerCancels(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "ring_no_answer.xml", "tcp", nil)
	h := newHarness(t, func(cfg *sipbridge.Config) { cfg.RingTimeout = 2 * time.Second })
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c)

	start := time.Now()
	require.NoError(t, h.place(c))
	ag.AwaitStatus("ringing")
	h.notes.await(t, c.ID, dialq.StatusNoAnswer)
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "canceled at the end of the ring time, not before")
	ag.AwaitPhoneGone()
	s.RequirePassed(t)

	trunk := fmt.Sprintf("%s:%d", s.Host, s.Port)
	require.Equal(t, []string{
		"INVITE sip:" + dialled + "@" + trunk + " SIP/2.0",
		"CANCEL sip:" + dialled + "@" + trunk + " SIP/2.0",
		"ACK sip:" + dialled + "@" + trunk + " SIP/2.0", // of the 487
	}, testenv.FirstLines(s.Received()))

	row := h.row(c)
	require.Equal(t, dialq.StatusNoAnswer, row.Status)
	require.Equal(t, dialq.ReasonNoAnswer, row.FailureReason)
	require.Equal(t, 487, row.SIPStatusCode)
	require.Equal(t, "Request Terminated", row.SIPStatus)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "no_answer"), kinds)
	require.Equal(t, []dialq.CallStatus{dialq.StatusRinging, dialq.StatusNoAnswer}, h.notes.of(c.ID))
	h.settle()
}

// TestHoldResume: Exotel puts the call on hold and takes it off with
// re-INVITEs; the agent is told on sip_bridge_events, each event once, and
// the timeline shows both.
func TestHoldResume(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "hold_resume.xml", "tcp", nil)
	h := newHarness(t, nil)
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	ag.AwaitEvents("call_answered", "call_hold", "call_resume")
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t) // sipp checked dialq's answers: recvonly, then sendrecv
	ag.AwaitPhoneGone()
	require.Equal(t, []string{"call_answered", "call_hold", "call_resume"}, ag.Events(), "each event once")

	kinds, ev := h.timeline(c)
	require.Equal(t, steps("invite_sent", "answered", "call_hold", "call_resume", "completed"), kinds)
	n := len(dialerSteps)
	require.Equal(t, "a=sendonly", ev[n+2].Detail)
	require.Equal(t, "a=sendrecv", ev[n+3].Detail)
	row := h.row(c)
	require.Equal(t, dialq.StatusCompleted, row.Status)
	require.Equal(t, "phone hung up", row.EndReason)
	h.settle()
}

// TestHangupByAPI: dialq ends an answered call (over UDP): Exotel gets a
// BYE and the call completes with the reason given.
func TestHangupByAPI(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "udp", nil)
	h := newHarness(t, nil)
	c := h.newCall(s, "udp")
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusAnswered)
	ag.AwaitStatus("active")
	require.Equal(t, 1, h.m.Live())
	require.False(t, h.m.Hangup(uuid.New(), "hung up by API"), "not a call of this worker")
	require.True(t, h.m.Hangup(c.ID, "hung up by API"))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)
	require.Contains(t, testenv.FirstLines(s.Received()), "BYE sip:"+s.Host+":"+strconv.Itoa(s.Port)+";transport=UDP SIP/2.0")
	requireHungUp(t, ag)

	row := h.row(c)
	require.Equal(t, dialq.StatusCompleted, row.Status)
	require.Equal(t, "hung up by API", row.EndReason)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "answered", "completed"), kinds)
	h.settle()
	require.False(t, h.m.Hangup(c.ID, "again"), "an ended call is no longer held")
}

// TestStoredHangupRequest: a hang-up stored on the call, whose message
// never reached the worker, is carried out on the worker's next heartbeat.
func TestStoredHangupRequest(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
	h := newHarness(t, nil)
	hb := sipbridge.NewHeartbeat(h.m, sipbridge.HeartbeatConfig{})
	c := h.newCall(s, "tcp")
	h.joinAgent(c)

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusAnswered)
	require.NoError(t, hb.Beat(context.Background()))
	require.Equal(t, 1, h.m.Live(), "nothing asked yet: a beat only vouches")
	live, err := h.db.RequestHangup(context.Background(), c.ID, dialq.EndedByAPI, "hung up by API")
	require.NoError(t, err)
	require.True(t, live)
	require.NoError(t, hb.Beat(context.Background()))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)

	row := h.row(c)
	require.Equal(t, "hung up by API", row.EndReason)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "answered", "hangup_requested", "completed"), kinds)
	h.settle()
}

// TestRelayedTrafficIsLogged: while calls are held, the StatsLog logs what
// they relayed in each window ("bridged calls relayed"), and once more for
// the window in which they ended; with no calls it logs nothing.
func TestRelayedTrafficIsLogged(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil, "-rtp_echo")
	h := newHarness(t, nil)
	clock := testclock.New(time.Now())
	sl := sipbridge.NewStatsLog(h.m, sipbridge.StatsLogConfig{Now: clock.Now})
	ctx := context.Background()
	c := h.newCall(s, "tcp")
	h.joinAgent(c)

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusAnswered)
	relayed := func() []map[string]slog.Value { return h.logs.attrs("bridged calls relayed") }
	// The frames to the phone, echoed back by sipp, take a moment to come
	// round: each window until then may count only those sent.
	require.Eventually(t, func() bool {
		clock.Advance(time.Minute)
		sl.Log(ctx)
		for _, a := range relayed() {
			if a["live"].Int64() == 1 && a["rtp_out"].Uint64() > 0 && a["rtp_in"].Uint64() > 0 {
				return true
			}
		}
		return false
	}, waitFor, 50*time.Millisecond, "a line about the live call: %v", relayed())
	for _, a := range relayed() {
		require.Equal(t, time.Minute, a["window"].Duration(), "each window is the clock's, since the last reading")
	}

	require.True(t, h.m.Hangup(c.ID, "hung up by API"))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)
	h.settle() // the call's goroutine has counted it as ended
	clock.Advance(time.Minute)
	sl.Log(ctx)
	lines := relayed()
	last := lines[len(lines)-1]
	require.EqualValues(t, 0, last["live"].Int64(), "a line for the window the call ended in: %v", lines)
	require.EqualValues(t, 1, last["ended"].Int64(), "a line for the window the call ended in: %v", lines)

	clock.Advance(time.Minute)
	sl.Log(ctx)
	require.Len(t, relayed(), len(lines), "nothing relayed, nothing logged")
}

// TestNoRTPEndsCall: Exotel answers but never sends audio; after
// NoRTPTimeout dialq hangs up and the call fails as media_timeout.
func TestNoRTPEndsCall(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
	h := newHarness(t, func(cfg *sipbridge.Config) { cfg.NoRTPTimeout = time.Second })
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c) // it stays: the call ends for want of audio, not of an agent

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusFailed)
	s.RequirePassed(t) // sipp got the BYE
	require.Contains(t, testenv.FirstLines(s.Received()), "BYE sip:"+s.Host+":"+strconv.Itoa(s.Port)+";transport=TCP SIP/2.0")
	requireHungUp(t, ag)

	row := h.row(c)
	require.Equal(t, dialq.StatusFailed, row.Status)
	require.Equal(t, dialq.ReasonMediaTimeout, row.FailureReason)
	require.NotNil(t, row.AnsweredAt, "it was answered first")
	// The timeout counts from the media's start, just before the answer
	// is recorded.
	require.Greater(t, row.EndedAt.Sub(*row.AnsweredAt), 900*time.Millisecond)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "answered", "failed"), kinds)
	h.settle()
}

// TestDrainHangsUp: a worker shutting down hangs up the calls still live
// after the grace (BYE), records them as failed worker_shutdown, and takes
// no new call, which is retried elsewhere.
func TestDrainHangsUp(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
	h := newHarness(t, nil)
	c := h.newCall(s, "tcp")
	h.joinAgent(c)

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusAnswered)
	start := time.Now()
	h.m.Drain(500 * time.Millisecond)
	took := time.Since(start)
	require.GreaterOrEqual(t, took, 500*time.Millisecond, "live calls get their grace")
	require.Zero(t, h.m.Live(), "Drain returns once the calls are recorded")
	row := h.row(c)
	require.Equal(t, dialq.StatusFailed, row.Status)
	require.Equal(t, dialq.ReasonWorkerShutdown, row.FailureReason)
	s.RequirePassed(t) // sipp got the BYE
	require.Contains(t, testenv.FirstLines(s.Received()), "BYE sip:"+s.Host+":"+strconv.Itoa(s.Port)+";transport=TCP SIP/2.0")

	next := h.newCall(s, "tcp")
	err := h.place(next)
	se, ok := errors.AsType[*dialq.StepError](err)
	require.True(t, ok, "got %v", err)
	require.True(t, se.Retry, "another worker takes the call")
	require.Equal(t, dialq.ReasonBridge, se.Failure.Reason)
	kinds, _ := h.timeline(next)
	require.Equal(t, dialerSteps, kinds, "nothing was sent for it")
}

// TestDrainHangsUpACallPlacedMeanwhile: the worker starts draining while a
// call's INVITE is out but its record is still on its way to a slow
// Postgres. Drain hangs up the calls it holds at once (grace 0), before that
// one is registered; it must be hung up as soon as it is, not left live
// after the drain.
func TestDrainHangsUpACallPlacedMeanwhile(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "ring_no_answer.xml", "tcp", nil)
	inviting := make(chan struct{}, 1)
	h := newHarnessWithStore(t, nil, func(db *postgres.DB) sipbridge.Store {
		return slowStore{DB: db, invite: time.Second, inviting: inviting}
	})
	c := h.newCall(s, "tcp")
	h.joinAgent(c)

	require.NoError(t, h.db.MarkDialing(context.Background(), c.ID, dialq.ParticipantIdentityFor(c.ToNumber), time.Now()))
	placed := make(chan error, 1)
	go func() {
		_, err := h.m.Dial(context.Background(), c)
		placed <- err
	}()
	select {
	case <-inviting:
	case err := <-placed:
		t.Fatalf("Dial returned before recording the INVITE: %v", err)
	}
	start := time.Now()
	h.m.Drain(0)
	require.Less(t, time.Since(start), 5*time.Second, "Drain waited for a call nobody hung up")
	require.NoError(t, <-placed, "the INVITE went out before the drain")
	require.Zero(t, h.m.Live())
	s.RequirePassed(t) // sipp got the CANCEL

	row := h.row(c)
	require.Equal(t, dialq.StatusFailed, row.Status)
	require.Equal(t, dialq.ReasonWorkerShutdown, row.FailureReason)
}

// TestPlaceOnAClosedUserAgent: a worker whose SIP user agent is closed
// takes no call; another worker will.
func TestPlaceOnAClosedUserAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	port, _ := testenv.PortBlock(t)
	c := h.newCall(&testenv.SippRun{Host: "127.0.0.1", Port: port}, "tcp")
	ag := h.joinAgent(c)
	require.NoError(t, h.ua.Close())

	se, ok := errors.AsType[*dialq.StepError](h.place(c))
	require.True(t, ok)
	require.True(t, se.Retry, "nothing was sent: another worker may dial")
	require.Equal(t, dialq.ReasonBridge, se.Failure.Reason)
	require.Zero(t, h.m.Live())
	h.awaitPhoneLeft(c)
	require.NotContains(t, ag.CallStatuses(), "hangup")
}

// TestOrphanedCallsAreClosed: a call whose worker died (it sent the INVITE,
// then never vouched for it again) is closed as worker_lost by another
// worker's Orphans, while that worker's own live call, vouched for by its
// Heartbeat, stays.
func TestOrphanedCallsAreClosed(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
	h := newHarness(t, nil)
	hb := sipbridge.NewHeartbeat(h.m, sipbridge.HeartbeatConfig{})
	own := h.newCall(s, "tcp")
	h.joinAgent(own)
	require.NoError(t, h.place(own))
	h.notes.await(t, own.ID, dialq.StatusAnswered)

	// The dead worker's call: the INVITE went out after our own call's, so
	// it goes stale after it; only vouching keeps ours live.
	ctx := context.Background()
	lost := h.newCall(s, "tcp")
	require.NoError(t, h.db.MarkDialing(ctx, lost.ID, dialq.ParticipantIdentityFor(lost.ToNumber), time.Now()))
	require.NoError(t, h.db.RecordInviteSent(ctx, lost.ID, "worker-dead", "sip-call-of-the-dead"))

	// The worker's heartbeat comes after the cut-off, the dead worker's
	// last word before it; the closer looks a minute after the cut-off,
	// with an After of a minute.
	cut := time.Now()
	require.NoError(t, hb.Beat(ctx))
	orphans := sipbridge.NewOrphans(sipbridge.OrphansConfig{Store: h.db, Notify: h.notes, Log: testenv.Logger(t),
		After: time.Minute, Now: func() time.Time { return cut.Add(time.Minute) }})
	closed, err := orphans.CloseStale(ctx)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{lost.ID}, closed)
	h.notes.await(t, lost.ID, dialq.StatusFailed)

	row := h.row(lost)
	require.Equal(t, dialq.StatusFailed, row.Status)
	require.Equal(t, dialq.ReasonWorkerLost, row.FailureReason)
	kinds, ev := h.timeline(lost)
	require.Equal(t, steps("invite_sent", "failed"), kinds)
	require.Equal(t, "worker_lost: worker worker-dead went silent", ev[len(ev)-1].Detail)

	require.Equal(t, dialq.StatusAnswered, h.row(own).Status, "our own call is vouched for")
	require.Equal(t, 1, h.m.Live())
	require.Equal(t, []dialq.CallStatus{dialq.StatusRinging, dialq.StatusAnswered}, h.notes.of(own.ID))

	require.True(t, h.m.Hangup(own.ID, "test over"))
	h.notes.await(t, own.ID, dialq.StatusCompleted)
	s.RequirePassed(t)
	h.settle()
}

// TestRoomClosedEndsCall: once the agent is gone, by leaving or with the
// room, nobody can talk to the person: dialq hangs up (BYE) and the call
// completes, ended by the agent ("agent left": an agent hangs up by
// leaving) or by dialq ("room closed").
func TestRoomClosedEndsCall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		by    dialq.EndedBy
		close func(h *harness, c *dialq.Call, ag *testroom.Agent)
	}{
		{"agent left", dialq.EndedByAgent, func(_ *harness, _ *dialq.Call, ag *testroom.Agent) { ag.Leave() }},
		{"room closed", dialq.EndedByDialq, func(h *harness, c *dialq.Call, _ *testroom.Agent) {
			_, err := h.rooms.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: c.RoomName})
			require.NoError(h.t, err)
		}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
			h := newHarness(t, nil)
			c := h.newCall(s, "tcp")
			ag := h.joinAgent(c)

			require.NoError(t, h.place(c))
			h.notes.await(t, c.ID, dialq.StatusAnswered)
			ag.AwaitStatus("active")
			tc.close(h, c, ag)
			h.notes.await(t, c.ID, dialq.StatusCompleted)
			s.RequirePassed(t) // sipp got the BYE
			require.Contains(t, testenv.FirstLines(s.Received()), "BYE sip:"+s.Host+":"+strconv.Itoa(s.Port)+";transport=TCP SIP/2.0")

			row := h.row(c)
			require.Equal(t, dialq.StatusCompleted, row.Status)
			require.Equal(t, tc.name, row.EndReason)
			require.Equal(t, tc.by, row.EndedBy)
			kinds, _ := h.timeline(c)
			require.Equal(t, steps("invite_sent", "ringing", "answered", "completed"), kinds)
			h.settle()
		})
	}
}

// TestRingingAfterTheInviteRecord: Exotel rings at once while the INVITE's
// record is still on its way to a slow Postgres. The ringing must be
// recorded after it: recorded first, it moves the row off dialing, and the
// INVITE's record (SIP Call-ID, the worker that vouches for the call) would
// find nothing to update.
func TestRingingAfterTheInviteRecord(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "ring_no_answer.xml", "tcp", nil)
	h := newHarnessWithStore(t, func(cfg *sipbridge.Config) { cfg.RingTimeout = 2 * time.Second },
		func(db *postgres.DB) sipbridge.Store { return slowStore{DB: db, invite: 300 * time.Millisecond} })
	c := h.newCall(s, "tcp")
	h.joinAgent(c)

	require.NoError(t, h.place(c))
	row := h.row(c)
	require.NotEmpty(t, row.SIPCallID, "the INVITE is recorded when Dial returns")
	h.notes.await(t, c.ID, dialq.StatusNoAnswer)
	s.RequirePassed(t)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "no_answer"), kinds)
	require.Equal(t, dialq.ReasonNoAnswer, h.row(c).FailureReason)
	h.settle()
}

// TestHoldRightAfterAnswer: Exotel puts the call on hold right behind its
// ACK, while the answer's record is still on its way to a slow Postgres,
// and hangs up right after it resumed, while that record is on its way.
// The hold must reach the agent and follow the answer on the timeline; the
// resume must come before the end.
func TestHoldRightAfterAnswer(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "hold_at_answer.xml", "tcp", nil)
	h := newHarnessWithStore(t, nil, func(db *postgres.DB) sipbridge.Store {
		return slowStore{DB: db, answer: 300 * time.Millisecond, event: 300 * time.Millisecond}
	})
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	ag.AwaitEvents("call_answered", "call_hold", "call_resume")
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "answered", "call_hold", "call_resume", "completed"), kinds)
	h.settle()
}

// TestRoomClosedWhileRinging: the agent leaves while the phone rings;
// nobody would be there to talk to, so dialq cancels the call, failed as
// agent_unavailable.
func TestRoomClosedWhileRinging(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "ring_no_answer.xml", "tcp", nil)
	h := newHarness(t, nil)
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	ag.AwaitStatus("ringing")
	ag.Leave()
	h.notes.await(t, c.ID, dialq.StatusFailed)
	s.RequirePassed(t) // sipp got the CANCEL and the ACK of its 487
	require.Contains(t, testenv.FirstLines(s.Received()), "CANCEL sip:"+dialled+"@"+s.Host+":"+strconv.Itoa(s.Port)+" SIP/2.0")

	row := h.row(c)
	require.Equal(t, dialq.StatusFailed, row.Status)
	require.Equal(t, dialq.ReasonAgentUnavailable, row.FailureReason)
	require.Contains(t, row.LastError, "the agent left the room while the phone rang")
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "failed"), kinds)
	h.settle()
}
