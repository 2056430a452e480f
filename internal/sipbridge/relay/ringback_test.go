package relay_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/sipbridge/relay"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// ringbackHz is the ringback's tone: the ETSI ringing tone livekit-sip
// plays too.
const ringbackHz = 425

func audible(f []int16) bool { return testroom.RMS(f) > testroom.AudibleRMS }

func isRingback(f []int16) bool { return testroom.Loud(f) && testroom.ToneShare(f, ringbackHz) > 0.6 }

// With Ringtone set, the room hears a ringback on the phone's track from
// the first Ringing, and the phone's own audio once it answers.
func TestRingback(t *testing.T) {
	t.Parallel()
	c := startCall(t, func(cfg *relay.Config) { cfg.Ringtone = true })
	c.agent.AwaitStatus("dialing")
	c.s.Ringing()
	tone := c.agent.AwaitFrames("the ringback", 0, 25, isRingback) // 500 ms
	require.InDelta(t, ringbackHz, testroom.Frequency(tone), 30)

	ph := newPhone(t)
	require.NoError(t, c.s.Answered(ph.addr(), relay.PayloadTypePCMU, -1))
	answered := c.agent.Heard()
	ph.talk(c.bridge, relay.PayloadTypePCMU, 1000)
	heard := c.agent.AwaitFrames("the phone's tone after the answer", answered, 25, func(f []int16) bool {
		return testroom.Loud(f) && testroom.ToneShare(f, 1000) > 0.6
	})
	require.InDelta(t, 1000, testroom.Frequency(heard), 30)
	// What was on its way at the answer aside, the ringback stopped there.
	late := c.agent.AwaitFrames("", answered, 0, isRingback)
	require.LessOrEqual(t, len(late)/testroom.FrameSamples, 15, "ringback frames after the answer")
}

// Without Ringtone the room hears nothing from the phone until it answers
// (silence: the agent's decoder fills in what it does not get).
func TestNoRingbackUnlessAsked(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	c.agent.AwaitStatus("dialing")
	c.s.Ringing()
	c.agent.AwaitStatus("ringing")
	require.Never(t, func() bool { return len(c.agent.AwaitFrames("", 0, 0, audible)) > 0 }, time.Second, 50*time.Millisecond,
		"the agent hears the phone ring only when asked to")
}
