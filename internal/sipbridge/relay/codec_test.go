package relay_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/sipbridge/relay"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// The phone's audio survives the bridge's Opus encoder and decoder at 8 kHz,
// and the decoder makes up for lost packets with as much audio as they
// held, 100 ms at most.
func TestOpusRoundTrip(t *testing.T) {
	t.Parallel()
	enc, err := relay.NewOpusEncoder()
	require.NoError(t, err)
	dec, err := relay.NewOpusDecoder()
	require.NoError(t, err)

	_, err = enc.Encode(make([]int16, 80))
	require.Error(t, err, "a frame is 20 ms")

	tn := testroom.Tone{Freq: 440}
	var packets [][]byte
	for range 100 {
		pkt, err := enc.Encode(tn.Next(160))
		require.NoError(t, err)
		require.Less(t, len(pkt), 160, "24 kbit/s is 60 bytes a frame")
		packets = append(packets, append([]byte(nil), pkt...))
	}

	var heard []int16
	for _, pkt := range packets[:50] {
		pcm, err := dec.Decode(pkt, 0)
		require.NoError(t, err)
		require.Len(t, pcm, 160)
		heard = append(heard, pcm...)
	}
	loud := testroom.LoudFrames(heard)
	require.Greater(t, len(loud), 40*160, "the tone comes out at its level")
	require.InDelta(t, 440, testroom.Frequency(loud), 10)

	for _, tc := range []struct {
		lost, want int
	}{
		{1, 2 * 160},
		{3, 4 * 160},
		{20, 100*8 + 160},
	} {
		pcm, err := dec.Decode(packets[50+tc.lost], tc.lost)
		require.NoError(t, err)
		require.Len(t, pcm, tc.want, "%d lost", tc.lost)
	}

	_, err = dec.Decode([]byte{0xff, 0xff, 0xff}, 0)
	require.Error(t, err, "not Opus")
	pcm, err := dec.Decode(packets[99], 0)
	require.NoError(t, err, "the decoder goes on after a bad packet")
	require.Len(t, pcm, 160)
}
