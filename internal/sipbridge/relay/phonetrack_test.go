package relay

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go/v2"
)

// trackRecorder stands in for the phone's LocalTrack.
type trackRecorder struct{ samples []media.Sample }

func (r *trackRecorder) WriteSample(s media.Sample, _ *lksdk.SampleWriteOptions) error {
	s.Data = append([]byte(nil), s.Data...)
	r.samples = append(r.samples, s)
	return nil
}

// take returns the timestamps of the frames written since the last call.
func (r *trackRecorder) take() []uint32 {
	var ts []uint32
	for _, s := range r.samples {
		ts = append(ts, s.PacketTimestamp)
	}
	r.samples = nil
	return ts
}

// The phone's packets become 20 ms Opus frames the moment they arrive, and
// the frames' timestamps follow the phone's: across a loss, a hold or a new
// stream, the track neither queues audio nor hides the time that passed.
func TestPhoneTrack(t *testing.T) {
	t.Parallel()
	rec := &trackRecorder{}
	p, err := newPhoneTrack(rec)
	require.NoError(t, err)
	start := time.Now()
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	alaw := func(ms int) []byte {
		b := make([]byte, ms*8)
		for i := range b {
			b[i] = byte(i * 37) // anything but silence
		}
		return b
	}

	// 20 ms packets: one frame each, right away, 960 ticks apart.
	require.NoError(t, p.write(1, 1000, PayloadTypePCMA, alaw(20), at(0)))
	first := rec.samples[0]
	require.Equal(t, frameDur, first.Duration)
	require.NotEmpty(t, first.Data)
	t0 := first.PacketTimestamp
	require.NoError(t, p.write(1, 1160, PayloadTypePCMA, alaw(20), at(20)))
	require.Equal(t, []uint32{t0, t0 + 960}, rec.take())

	// A packet lost: the next frame comes 40 ms after the last.
	require.NoError(t, p.write(1, 1480, PayloadTypePCMA, alaw(20), at(60)))
	require.Equal(t, []uint32{t0 + 3*960}, rec.take())

	// 30 ms packets: one frame, then two; at most 10 ms waits for the next.
	require.NoError(t, p.write(1, 1640, PayloadTypePCMA, alaw(30), at(80)))
	require.Equal(t, []uint32{t0 + 4*960}, rec.take())
	require.Len(t, p.pcm, 80)
	require.NoError(t, p.write(1, 1880, PayloadTypePCMA, alaw(30), at(110)))
	require.Equal(t, []uint32{t0 + 5*960, t0 + 6*960}, rec.take())
	require.Empty(t, p.pcm)
	require.NoError(t, p.write(1, 2120, PayloadTypePCMA, alaw(30), at(140)))
	require.Equal(t, []uint32{t0 + 7*960}, rec.take())

	// Then the phone skips 1 s (a hold): the 10 ms left over is dropped and
	// the track skips the same second, counted from that 10 ms's place.
	require.NoError(t, p.write(1, 2360+8000, PayloadTypePCMA, alaw(20), at(1160)))
	require.Equal(t, []uint32{t0 + 7*960 + (240+8000)*6}, rec.take())
	t1 := t0 + 7*960 + (240+8000)*6

	// A new stream (SSRC) 200 ms later: the clock places it, after the 9
	// frames that would have fitted in between.
	require.NoError(t, p.write(2, 90000, PayloadTypePCMU, alaw(20), at(1360)))
	require.Equal(t, []uint32{t1 + 10*960}, rec.take())

	// Timestamps going backwards in the same stream: a new stream too.
	require.NoError(t, p.write(2, 10, PayloadTypePCMU, alaw(20), at(1380)))
	require.Equal(t, []uint32{t1 + 11*960}, rec.take())
}
