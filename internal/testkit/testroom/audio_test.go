package testroom_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/testkit/testroom"
)

func TestToneMeasures(t *testing.T) {
	t.Parallel()
	tone := testroom.Tone{Freq: 440}
	second := tone.Next(testroom.SampleRate)

	require.InDelta(t, 5657, testroom.RMS(second), 5, "8000 / √2")
	require.InDelta(t, 440, testroom.Frequency(second), 2)
	require.Greater(t, testroom.ToneShare(second, 440), 0.9)
	require.Less(t, testroom.ToneShare(second, 1000), 0.1)
	require.Zero(t, testroom.RMS(nil))
	require.Zero(t, testroom.ToneShare(make([]int16, 160), 440), "silence has no tone")

	whole, parts := testroom.Tone{Freq: 440}, testroom.Tone{Freq: 440}
	require.Equal(t, whole.Next(320), slices.Concat(parts.Next(160), parts.Next(160)),
		"each frame goes on where the last stopped")
}

func TestLoudFrames(t *testing.T) {
	t.Parallel()
	tone := testroom.Tone{Freq: 440}
	loud := tone.Next(testroom.FrameSamples)
	quiet := make([]int16, testroom.FrameSamples)
	quiet[0] = 3000 // one click does not make a frame loud
	pcm := slices.Concat(quiet, loud, quiet, loud, loud[:100])

	require.True(t, testroom.Loud(loud))
	require.False(t, testroom.Loud(quiet))
	require.Equal(t, slices.Concat(loud, loud), testroom.LoudFrames(pcm), "whole loud frames only")
}
