package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/sipbridge/relay"
	"github.com/dialq/dialq/internal/testkit/testrtp"
)

// Frames of the digits the bridge sends: 13 packets of a 260 ms event (the
// last one its end), its end twice more, then the rest of a 260 ms gap; a
// 'w' is 25 frames of audio.
const (
	toneFrames  = 13
	digitFrames = 26
	pauseFrames = 25
)

// Digits sent to the phone reach it as RFC 4733 telephone-events on the
// payload type of its answer, in the stream of its audio: each event's
// packets share the timestamp of the frame it started on, the first with
// the marker bit, durations growing with the 20 ms frames, the end sent
// three times; each packet takes the place of a frame of audio, so the
// phone still gets one packet a frame, its sequence numbers without a gap;
// a 'w' waits half a second. (The pacer skips frames when the host stalls
// it, the digits with it: the timestamps then jump, never the sequence
// numbers.)
func TestSendDTMF(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	ph := testrtp.Listen(t)
	ctx := context.Background()
	require.NoError(t, c.s.Answered(ph.Addr(), relay.PayloadTypePCMA, 101))
	ph.Await(t, "audio", waitFor, func(p []testrtp.Packet) bool { return len(p) >= 5 })

	start := time.Now()
	require.NoError(t, c.s.SendDTMF(ctx, "1wb#"))
	took := time.Since(start)
	frames := digitFrames + pauseFrames + 2*digitFrames
	require.GreaterOrEqual(t, took, time.Duration(frames-2)*20*time.Millisecond, "SendDTMF returns once the digits are out")
	require.Less(t, took, time.Duration(frames)*20*time.Millisecond+time.Second)

	// The last gap's audio, and a frame after it.
	pkts := ph.Await(t, "the frames after the last digit", waitFor, func(p []testrtp.Packet) bool {
		keys := testrtp.Keys(p, 101)
		return len(keys) == 3 && p[len(p)-1].Timestamp > keys[2].Timestamp+digitFrames*160
	})
	keys := testrtp.Keys(pkts, 101)
	require.Equal(t, "1B#", testrtp.Digits(keys))
	for _, k := range keys {
		require.True(t, k.Marker, "an event's first packet has the marker bit")
		require.Equal(t, 1, k.Markers, "and only its first")
		require.Equal(t, 3, k.Ends, "the end goes three times")
		require.Equal(t, byte(10), k.Volume)
		d := k.Durations
		require.Equal(t, uint16(160), d[0], "key %c: durations %v", k.Digit, d)
		require.Equal(t, []uint16{160 * toneFrames, 160 * toneFrames, 160 * toneFrames}, d[len(d)-3:],
			"key %c: a 260 ms event: durations %v", k.Digit, d)
		for i := 1; i < len(d)-2; i++ {
			require.Greater(t, d[i], d[i-1], "key %c: durations %v", k.Digit, d)
			require.Zero(t, d[i]%160, "key %c: durations %v", k.Digit, d)
		}
	}
	// On the clock: 1, half a second, B, #. A digit the pacer was to start
	// as it skipped frames starts on the frame after the skip.
	requireFramesApart(t, digitFrames+pauseFrames, keys[0], keys[1])
	requireFramesApart(t, digitFrames, keys[1], keys[2])

	// One stream: audio and events share the SSRC and the sequence
	// numbers, without a gap; the events' timestamps are those of the
	// frames they started on, between the audio's.
	first, lastAudio := pkts[0], pkts[0].Timestamp
	for i, p := range pkts {
		require.Equal(t, first.SSRC, p.SSRC)
		require.Equal(t, first.SequenceNumber+uint16(i), p.SequenceNumber, "packet %d", i)
		require.Zero(t, (p.Timestamp-first.Timestamp)%160, "packet %d is on a frame", i)
		switch p.PayloadType {
		case relay.PayloadTypePCMA:
			require.Len(t, p.Payload, 160)
			if i > 0 {
				require.Greater(t, p.Timestamp, lastAudio, "audio packet %d", i)
			}
			lastAudio = p.Timestamp
		case 101:
			require.Greater(t, p.Timestamp, lastAudio, "event packet %d starts after the audio before it", i)
		default:
			t.Fatalf("packet %d has payload type %d", i, p.PayloadType)
		}
	}
}

// requireFramesApart checks that key b started frames 20 ms frames after
// key a, or a few more: as many as the pacer skipped at b's start when the
// host stalled it.
func requireFramesApart(t *testing.T, frames int, a, b testrtp.Key) {
	t.Helper()
	d := b.Timestamp - a.Timestamp
	require.Zero(t, d%160, "on a frame")
	require.GreaterOrEqual(t, d/160, uint32(frames), "keys %c and %c", a.Digit, b.Digit)
	require.LessOrEqual(t, d/160, uint32(frames+10), "keys %c and %c", a.Digit, b.Digit)
}

// Digits are sent only to a phone that answered with a telephone-event,
// and only while the call lasts.
func TestSendDTMFRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("no telephone-event", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, nil)
		require.Error(t, c.s.SendDTMF(ctx, "1"), "before the answer")
		require.NoError(t, c.s.Answered(newPhone(t).addr(), relay.PayloadTypePCMU, -1))
		require.ErrorIs(t, c.s.SendDTMF(ctx, "1"), relay.ErrNoTelephoneEvent)
	})
	t.Run("not a digit", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, nil)
		require.NoError(t, c.s.Answered(newPhone(t).addr(), relay.PayloadTypePCMU, 101))
		require.ErrorContains(t, c.s.SendDTMF(ctx, "12x"), `"x"`)
	})
	t.Run("call ends", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, nil)
		require.NoError(t, c.s.Answered(newPhone(t).addr(), relay.PayloadTypePCMU, 101))
		sent := make(chan error, 1)
		go func() { sent <- c.s.SendDTMF(ctx, "123456789") }()
		time.AfterFunc(300*time.Millisecond, func() { c.s.Close("phone hung up") })
		select {
		case err := <-sent:
			require.ErrorIs(t, err, relay.ErrClosed)
		case <-time.After(waitFor):
			t.Fatal("SendDTMF still waiting after the call ended")
		}
		require.ErrorIs(t, c.s.SendDTMF(ctx, "1"), relay.ErrClosed)
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, nil)
		ph := testrtp.Listen(t)
		require.NoError(t, c.s.Answered(ph.Addr(), relay.PayloadTypePCMU, 101))
		cctx, cancel := context.WithTimeout(ctx, 780*time.Millisecond) // into the second digit, 520-1040 ms
		defer cancel()
		require.ErrorIs(t, c.s.SendDTMF(cctx, "123456789"), context.DeadlineExceeded)
		// The digit under way is finished; no other follows it.
		pkts := ph.Await(t, "the gap after the second digit", waitFor, func(p []testrtp.Packet) bool {
			keys := testrtp.Keys(p, 101)
			return len(keys) == 2 && p[len(p)-1].Timestamp > keys[1].Timestamp+2*digitFrames*160
		})
		require.Equal(t, "12", testrtp.Digits(testrtp.Keys(pkts, 101)))
	})
}

// DTMF a participant of the room publishes (an agent keying through an
// IVR, as livekit-agents' publish_dtmf does) reaches the phone, in order:
// the packet's digit, or the digit of its code when it has none.
func TestRoomDTMFReachesThePhone(t *testing.T) {
	t.Parallel()
	c := startCall(t, nil)
	ph := testrtp.Listen(t)
	require.NoError(t, c.s.Answered(ph.Addr(), relay.PayloadTypePCMU, 101))
	c.agent.AwaitStatus("active")
	c.agent.SendDTMF(1, "1")
	c.agent.SendDTMF(10, "")
	c.agent.SendDTMF(12, "A")
	pkts := ph.Await(t, "three keys", waitFor, func(p []testrtp.Packet) bool {
		keys := testrtp.Keys(p, 101)
		return len(keys) == 3 && keys[2].Ends == 3
	})
	keys := testrtp.Keys(pkts, 101)
	require.Equal(t, "1*A", testrtp.Digits(keys))
}
