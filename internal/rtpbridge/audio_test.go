package rtpbridge_test

import (
	"math"
)

// tone generates a sine of freq Hz at 8 kHz, at a speaking level.
type tone struct {
	freq  float64
	phase float64
}

func (g *tone) next(n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(g.phase))
		g.phase += 2 * math.Pi * g.freq / 8000
	}
	return out
}

// loudRMS is the level above which a 20 ms frame counts as sound: the tone
// is at RMS 5657, G.711 silence decodes to 0 (μ-law) or ±8 (A-law) and Opus
// silence to a few units.
const loudRMS = 1000

func rms(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// loudFrames returns the 20 ms frames of pcm (8 kHz) that are loud, joined.
func loudFrames(pcm []int16) []int16 {
	var out []int16
	for len(pcm) >= 160 {
		if rms(pcm[:160]) > loudRMS {
			out = append(out, pcm[:160]...)
		}
		pcm = pcm[160:]
	}
	return out
}

// frequency estimates the main frequency of pcm (8 kHz) from its zero
// crossings. A crossing counts only once the signal got past ±1000 on the
// other side, so codec noise around zero does not add crossings.
func frequency(pcm []int16) float64 {
	crossings, positive, started := 0, false, false
	for _, v := range pcm {
		if v > -1000 && v < 1000 {
			continue
		}
		if started && (v > 0) != positive {
			crossings++
		}
		positive, started = v > 0, true
	}
	return float64(crossings) / 2 / (float64(len(pcm)) / 8000)
}
