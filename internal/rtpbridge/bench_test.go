package rtpbridge_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	msdk "github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/g711"
	"github.com/livekit/media-sdk/opus"
	protologger "github.com/livekit/protocol/logger"
)

// BenchmarkCodecPath measures the bare codec work of one 20 ms frame in each
// direction of a bridged call, with the building blocks the bridge uses (no
// network, no pacing, no LiveKit):
//
//   - phone_to_room: G.711 μ-law decode of 160 bytes, then what
//     PCMLocalTrack does with it: two 10 ms chunks resampled 8 → 48 kHz
//     (soxr) and Opus-encoded;
//   - room_to_phone: what PCMRemoteTrack does with one 20 ms Opus packet
//     (decode, resample 48 → 8 kHz), then G.711 μ-law encode of 160 samples.
//
// ns/op is per frame; %realtime is that cost as a share of the 20 ms the
// frame lasts, i.e. of one core per call and direction.
func BenchmarkCodecPath(b *testing.B) {
	log := protologger.GetLogger()

	b.Run("phone_to_room", func(b *testing.B) {
		sink := &opusSink{}
		enc, err := opus.Encode(sink, 1, log)
		require.NoError(b, err)
		in := msdk.ResampleWriter(enc, 8000)
		frames := g711Frames(50)
		pcm := make(msdk.PCM16Sample, 160)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			g711.DecodeULawTo(pcm, frames[i%len(frames)])
			if err := in.WriteSample(pcm[:80]); err != nil {
				b.Fatal(err)
			}
			if err := in.WriteSample(pcm[80:]); err != nil {
				b.Fatal(err)
			}
		}
		reportRealtime(b)
		require.NotZero(b, sink.n, "Opus packets came out")
	})

	b.Run("room_to_phone", func(b *testing.B) {
		packets := opusFrames(b, 50)
		sink := &g711Sink{}
		dec, err := opus.Decode(msdk.ResampleWriter(sink, 48000), 1, log)
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if err := dec.WriteSample(packets[i%len(packets)]); err != nil {
				b.Fatal(err)
			}
		}
		reportRealtime(b)
		require.NotZero(b, sink.frames, "G.711 frames came out")
	})
}

func reportRealtime(b *testing.B) {
	if b.N > 0 {
		perFrame := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(perFrame/20e6*100, "%realtime")
	}
}

// g711Frames returns n 20 ms μ-law frames of a 440 Hz tone.
func g711Frames(n int) [][]byte {
	tn := tone{freq: 440}
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 160)
		g711.EncodeULawTo(out[i], tn.next(160))
	}
	return out
}

// opusFrames returns n 20 ms Opus packets (48 kHz mono, as an agent sends)
// of a 440 Hz tone.
func opusFrames(b *testing.B, n int) []opus.Sample {
	sink := &opusSink{keep: true}
	enc, err := opus.Encode(sink, 1, protologger.GetLogger())
	require.NoError(b, err)
	up := msdk.ResampleWriter(enc, 8000)
	tn := tone{freq: 440}
	for len(sink.packets) < n {
		require.NoError(b, up.WriteSample(tn.next(160)))
	}
	return sink.packets[:n]
}

// opusSink stands in for the WebRTC track at the end of PCMLocalTrack.
type opusSink struct {
	keep    bool
	n       int
	packets []opus.Sample
}

func (*opusSink) String() string  { return "opus sink" }
func (*opusSink) SampleRate() int { return 48000 }
func (*opusSink) Close() error    { return nil }

func (s *opusSink) WriteSample(p opus.Sample) error {
	s.n++
	if s.keep {
		s.packets = append(s.packets, append(opus.Sample(nil), p...))
	}
	return nil
}

// g711Sink stands in for the bridge's mixer and pacer: it encodes 160-sample
// frames to μ-law as they fill.
type g711Sink struct {
	buf    []int16
	out    [160]byte
	frames int
}

func (*g711Sink) String() string  { return "g711 sink" }
func (*g711Sink) SampleRate() int { return 8000 }
func (*g711Sink) Close() error    { return nil }

func (s *g711Sink) WriteSample(pcm msdk.PCM16Sample) error {
	s.buf = append(s.buf, pcm...)
	for len(s.buf) >= 160 {
		g711.EncodeULawTo(s.out[:], s.buf[:160])
		s.frames++
		s.buf = s.buf[:copy(s.buf, s.buf[160:])]
	}
	return nil
}
