package sipbridge_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/testkit/testroom"
	"github.com/dialq/dialq/internal/testkit/testrtp"
)

// dialOptionsSipp fills in testdata/dial_options.xml.tmpl: Exotel checking
// the INVITE, ringing RingMs, answering (with its RTP to MediaPort when not
// 0) and awaiting dialq's BYE for ByeMs.
type dialOptionsSipp struct {
	From             string // XML-escaped regexp of the From header; "" checks nothing
	Headers          []sippHeader
	RingMs, ByeMs    int
	MediaPort        int
	NoTelephoneEvent bool
}

// sippHeader is a header sipp requires, Value an XML-escaped regexp. sipp
// matches a header's regexps against what follows its colon, the space
// included.
type sippHeader struct{ Name, Value string }

// xmlAttr escapes s for an XML attribute of a scenario.
func xmlAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// telephoneEvent is the payload type of telephone-event in the scenarios'
// answers.
const telephoneEvent = 101

// TestDialOptionsShapeTheInvite: a call's caller_id, display_name and
// sip_headers reach Exotel in its INVITE, which sipp checks as it takes
// it (a regexp that does not match fails its call): From carries the
// caller ID asked for, in the trunk's form, and the display name, quoted;
// the X- headers are there beside dialq's own X-Dialq-Call-Id, which a
// sip_headers one of the same name does not replace. The phone
// participant shows the number it calls from.
func TestDialOptionsShapeTheInvite(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "dial_options.xml.tmpl", "tcp", dialOptionsSipp{
		From: xmlAttr(`^ *"Acme Clinic" <sip:` + otherCallerID + `@127\.0\.0\.1>;tag=`),
		Headers: []sippHeader{
			{"X-Campaign", "^ *fall-2026$"},
			{"X-Lead-Id", "^ *42$"},
		},
		RingMs: 200, ByeMs: 15000,
	})
	h := newHarness(t, nil)
	name := "Acme Clinic"
	c := h.newCallWith(s, "tcp", dialq.DialOptions{CallerID: "+918044319241", DisplayName: &name,
		SIPHeaders: map[string]string{"X-Campaign": "fall-2026", "X-Lead-Id": "42", "x-dialq-call-id": "not-this-call"}})
	require.Equal(t, otherCallerID, c.Options.CallerID, "accepted in the trunk's form")
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	p := ag.AwaitStatus("active")
	require.Equal(t, otherCallerID, p.Attributes()["sip.trunkPhoneNumber"])
	require.True(t, h.m.Hangup(c.ID, "hung up by API"))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)

	inv := s.Received()[0]
	require.Regexp(t, `^"Acme Clinic" <sip:`+otherCallerID+`@127\.0\.0\.1>;tag=\S+$`, header(inv, "From"))
	require.Contains(t, header(inv, "Contact"), "<sip:"+otherCallerID+"@")
	require.Equal(t, "fall-2026", header(inv, "X-Campaign"))
	require.Equal(t, "42", header(inv, "X-Lead-Id"))
	require.Equal(t, c.ID.String(), header(inv, "X-Dialq-Call-Id"), "dialq's own call id")
	require.Equal(t, 1, strings.Count(strings.ToLower(inv), "\nx-dialq-call-id:"), "once")
	h.settle()
}

// TestDialOptionsDefaults: a call without dial options calls from the
// trunk's caller ID, shown as the display name, with no header but
// dialq's.
func TestDialOptionsDefaults(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "dial_options.xml.tmpl", "tcp", dialOptionsSipp{
		From:   xmlAttr(`^ *"` + callerID + `" <sip:` + callerID + `@127\.0\.0\.1>;tag=`),
		RingMs: 200, ByeMs: 15000,
	})
	h := newHarness(t, nil)
	c := h.newCall(s, "tcp")
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	p := ag.AwaitStatus("active")
	require.Equal(t, callerID, p.Attributes()["sip.trunkPhoneNumber"])
	require.True(t, h.m.Hangup(c.ID, "hung up by API"))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)
	inv := s.Received()[0]
	var extra []string
	for _, line := range strings.Split(inv, "\n") {
		if strings.HasPrefix(strings.ToLower(line), "x-") {
			extra = append(extra, line)
		}
	}
	require.Equal(t, []string{"X-Dialq-Call-Id: " + c.ID.String()}, extra)
	h.settle()
}

// awaitEvent waits until c's timeline has an event of kind and returns it.
// The bridge announces status changes only, so this reads the row's
// timeline until it shows the event.
func awaitEvent(t *testing.T, h *harness, c *dialq.Call, kind string) dialq.CallEvent {
	t.Helper()
	var ev dialq.CallEvent
	require.Eventually(t, func() bool {
		_, events := h.timeline(c)
		i := slices.IndexFunc(events, func(e dialq.CallEvent) bool { return e.Kind == kind })
		if i >= 0 {
			ev = events[i]
		}
		return i >= 0
	}, waitFor, 50*time.Millisecond, "no %s on the timeline", kind)
	return ev
}

// TestDTMFReachesThePhone: a call's dtmf is sent once the phone answered,
// as RFC 4733 telephone-events on the payload type of its answer, 'w'
// waiting half a second, and the timeline says so (dtmf_sent). Digits the
// agent presses afterwards (SipDTMF) follow them to the phone. The test is
// the phone's media end itself, reading what dialq sends.
func TestDTMFReachesThePhone(t *testing.T) {
	t.Parallel()
	ph := testrtp.Listen(t)
	s := startSipp(t, "dial_options.xml.tmpl", "tcp", dialOptionsSipp{RingMs: 200, ByeMs: 15000, MediaPort: ph.Port()})
	h := newHarness(t, nil)
	c := h.newCallWith(s, "tcp", dialq.DialOptions{DTMF: "12w#"})
	ag := h.joinAgent(c)

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusAnswered)
	pkts := ph.Await(t, "the call's DTMF", waitFor, func(p []testrtp.Packet) bool {
		keys := testrtp.Keys(p, telephoneEvent)
		return len(keys) == 3 && keys[2].Ends == 3
	})
	keys := testrtp.Keys(pkts, telephoneEvent)
	require.Equal(t, "12#", testrtp.Digits(keys))
	for _, k := range keys {
		require.True(t, k.Marker)
		require.Equal(t, 3, k.Ends)
		require.Equal(t, uint16(13*160), k.Durations[len(k.Durations)-1], "260 ms a digit")
	}
	// On the RTP clock, in 20 ms frames: a digit and its gap, then half a
	// second more (a few frames later if the pacer skipped frames at the
	// start of a digit, when the host stalled it).
	for i, frames := range []uint32{26, 26 + 25} {
		apart := (keys[i+1].Timestamp - keys[i].Timestamp) / 160
		require.True(t, apart >= frames && apart <= frames+10, "keys %d and %d are %d frames apart", i, i+1, apart)
	}
	require.Equal(t, "12w#", awaitEvent(t, h, c, "dtmf_sent").Detail)

	ag.SendDTMF(5, "5")
	pkts = ph.Await(t, "the agent's DTMF", waitFor, func(p []testrtp.Packet) bool {
		return testrtp.Digits(testrtp.Keys(p, telephoneEvent)) == "12#5"
	})
	for _, p := range pkts {
		require.Contains(t, []uint8{8, telephoneEvent}, p.PayloadType, "PCMA, as the phone answered, and its events")
	}

	require.True(t, h.m.Hangup(c.ID, "hung up by API"))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "answered", "dtmf_sent", "completed"), kinds)
	h.settle()
}

// TestDTMFNeedsTelephoneEvent: a phone whose answer offers no
// telephone-event is sent no DTMF, and the timeline says why
// (dtmf_not_sent); the call goes on.
func TestDTMFNeedsTelephoneEvent(t *testing.T) {
	t.Parallel()
	ph := testrtp.Listen(t)
	s := startSipp(t, "dial_options.xml.tmpl", "tcp", dialOptionsSipp{RingMs: 200, ByeMs: 15000, MediaPort: ph.Port(),
		NoTelephoneEvent: true})
	h := newHarness(t, nil)
	c := h.newCallWith(s, "tcp", dialq.DialOptions{DTMF: "1234"})
	h.joinAgent(c)

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusAnswered)
	ev := awaitEvent(t, h, c, "dtmf_not_sent")
	require.Contains(t, ev.Detail, "1234")
	require.Contains(t, ev.Detail, "telephone-event")
	pkts := ph.Await(t, "a second of audio", waitFor, func(p []testrtp.Packet) bool { return len(p) >= 50 })
	for _, p := range pkts {
		require.Equal(t, uint8(8), p.PayloadType, "audio only")
	}

	require.True(t, h.m.Hangup(c.ID, "hung up by API"))
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "answered", "dtmf_not_sent", "completed"), kinds)
	h.settle()
}

// TestRingtoneWhileRinging: with play_ringtone, the agent hears the
// ringback on the phone's track while the phone rings, then the phone
// (sipp echoes back the tone the agent starts to say at the answer);
// without it, nothing before the answer.
func TestRingtoneWhileRinging(t *testing.T) {
	t.Parallel()
	const ringbackHz, agentHz = 425, 1000
	isRingback := func(f []int16) bool { return testroom.Loud(f) && testroom.ToneShare(f, ringbackHz) > 0.6 }
	audible := func(f []int16) bool { return testroom.RMS(f) > testroom.AudibleRMS }
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "on", false: "off"}[on]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startSipp(t, "dial_options.xml.tmpl", "tcp", dialOptionsSipp{RingMs: 4000, ByeMs: 15000}, "-rtp_echo")
			h := newHarness(t, nil)
			c := h.newCallWith(s, "tcp", dialq.DialOptions{PlayRingtone: &on})
			ag := h.joinAgent(c)

			require.NoError(t, h.place(c))
			ag.AwaitStatus("ringing")
			if on {
				tone := ag.AwaitFrames("the ringback", 0, 25, isRingback) // 500 ms
				require.InDelta(t, ringbackHz, testroom.Frequency(tone), 30)
				require.Equal(t, dialq.StatusRinging, h.row(c).Status, "heard while the phone rings")
			}
			h.notes.await(t, c.ID, dialq.StatusAnswered)
			answered := ag.Heard()
			if !on {
				require.Empty(t, ag.AwaitFrames("", 0, 0, audible), "nothing from the phone before the answer")
			}
			ag.Speak(agentHz)
			ag.AwaitFrames("the phone: the agent's tone echoed", answered, 25, func(f []int16) bool {
				return testroom.Loud(f) && testroom.ToneShare(f, agentHz) > 0.6
			})
			late := ag.AwaitFrames("", answered, 0, isRingback)
			require.LessOrEqual(t, len(late)/testroom.FrameSamples, 15, "ringback frames after the answer")

			require.True(t, h.m.Hangup(c.ID, "hung up by API"))
			h.notes.await(t, c.ID, dialq.StatusCompleted)
			s.RequirePassed(t)
			h.settle()
		})
	}
}

// TestRingTimeoutPerCall: a call's ring_timeout, here the least allowed,
// cancels it in place of the worker's ring time.
func TestRingTimeoutPerCall(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "ring_no_answer.xml", "tcp", nil)
	h := newHarness(t, func(cfg *sipbridge.Config) { cfg.RingTimeout = 30 * time.Second })
	ring := dialq.MinRingTimeout.Seconds()
	c := h.newCallWith(s, "tcp", dialq.DialOptions{RingTimeout: &ring})
	h.joinAgent(c)

	start := time.Now()
	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusNoAnswer)
	took := time.Since(start)
	require.GreaterOrEqual(t, took, dialq.MinRingTimeout, "canceled at the end of the call's ring time")
	require.Less(t, took, dialq.MinRingTimeout+4*time.Second, "not the worker's")
	s.RequirePassed(t) // sipp got the CANCEL

	row := h.row(c)
	require.Equal(t, dialq.ReasonNoAnswer, row.FailureReason)
	require.Equal(t, 487, row.SIPStatusCode)
	h.settle()
}

// TestMaxDurationPerCall: a call's max_duration, here the least allowed,
// ends it in place of the worker's: dialq hangs up (BYE) and the call is
// completed, ended by dialq, "max duration", as on LiveKit SIP calls.
func TestMaxDurationPerCall(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "dial_options.xml.tmpl", "tcp", dialOptionsSipp{RingMs: 200, ByeMs: 20000})
	h := newHarness(t, func(cfg *sipbridge.Config) { cfg.MaxDuration = time.Hour })
	limit := dialq.MinMaxDuration.Seconds()
	c := h.newCallWith(s, "tcp", dialq.DialOptions{MaxDuration: &limit})
	h.joinAgent(c)

	require.NoError(t, h.place(c))
	h.notes.await(t, c.ID, dialq.StatusAnswered)
	h.notes.await(t, c.ID, dialq.StatusCompleted)
	s.RequirePassed(t) // sipp got the BYE

	row := h.row(c)
	require.Equal(t, dialq.StatusCompleted, row.Status)
	require.Equal(t, dialq.EndedByDialq, row.EndedBy)
	require.Equal(t, "max duration", row.EndReason)
	lasted := row.EndedAt.Sub(*row.AnsweredAt)
	require.GreaterOrEqual(t, lasted, dialq.MinMaxDuration-100*time.Millisecond, "the media's clock starts just before the answer's record")
	require.Less(t, lasted, dialq.MinMaxDuration+3*time.Second)
	kinds, _ := h.timeline(c)
	require.Equal(t, steps("invite_sent", "ringing", "answered", "completed"), kinds)
	h.settle()
}
