package relay_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	msdk "github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/g711"
	"github.com/livekit/media-sdk/opus"
	protologger "github.com/livekit/protocol/logger"

	"github.com/dialq/dialq/internal/sipbridge/relay"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// BenchmarkCodecPath measures the bare codec work of one 20 ms frame in each
// direction of a bridged call, with the bridge's own encoder and decoder (no
// network, no pacing, no LiveKit):
//
//   - phone_to_room: G.711 μ-law decode of 160 bytes, then one Opus frame
//     encoded at 8 kHz (relay.OpusEncoder);
//   - room_to_phone: one 20 ms Opus packet as an agent sends it (48 kHz)
//     decoded at 8 kHz (relay.OpusDecoder), then G.711 μ-law encode of
//     the 160 samples.
//
// ns/op is per frame; %realtime is that cost as a share of the 20 ms the
// frame lasts, i.e. of one core per call and direction.
func BenchmarkCodecPath(b *testing.B) {
	b.Run("phone_to_room", func(b *testing.B) {
		enc, err := relay.NewOpusEncoder()
		require.NoError(b, err)
		frames := g711Frames(50)
		pcm := make([]int16, 160)
		var bytes int
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			g711.DecodeULawTo(pcm, frames[i%len(frames)])
			pkt, err := enc.Encode(pcm)
			if err != nil {
				b.Fatal(err)
			}
			bytes += len(pkt)
		}
		reportRealtime(b)
		require.NotZero(b, bytes, "Opus packets came out")
	})

	b.Run("room_to_phone", func(b *testing.B) {
		packets := opusFrames(b, 50)
		dec, err := relay.NewOpusDecoder()
		require.NoError(b, err)
		var out [160]byte
		frames := 0
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			pcm, err := dec.Decode(packets[i%len(packets)], 0)
			if err != nil {
				b.Fatal(err)
			}
			for ; len(pcm) >= 160; pcm = pcm[160:] {
				g711.EncodeULawTo(out[:], pcm[:160])
				frames++
			}
		}
		reportRealtime(b)
		require.NotZero(b, frames, "G.711 frames came out")
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
	tn := testroom.Tone{Freq: 440}
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 160)
		g711.EncodeULawTo(out[i], tn.Next(160))
	}
	return out
}

// opusFrames returns n 20 ms Opus packets (48 kHz mono, as an agent sends)
// of a 440 Hz tone.
func opusFrames(b *testing.B, n int) []opus.Sample {
	sink := &opusSink{}
	enc, err := opus.Encode(sink, 1, protologger.GetLogger())
	require.NoError(b, err)
	up := msdk.ResampleWriter(enc, 8000)
	tn := testroom.Tone{Freq: 440}
	for len(sink.packets) < n {
		require.NoError(b, up.WriteSample(tn.Next(160)))
	}
	return sink.packets[:n]
}

// opusSink collects what an agent's encoder sends.
type opusSink struct{ packets []opus.Sample }

func (*opusSink) String() string  { return "opus sink" }
func (*opusSink) SampleRate() int { return 48000 }
func (*opusSink) Close() error    { return nil }

func (s *opusSink) WriteSample(p opus.Sample) error {
	s.packets = append(s.packets, append(opus.Sample(nil), p...))
	return nil
}
