package bridge_test

import "math"

// frameSamples is one 20 ms frame at 8 kHz.
const frameSamples = 160

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
// is at RMS 5657 and the recorded speech mostly above 1000, while G.711
// silence decodes to 0 (μ-law) or ±8 (A-law) and Opus silence to a few
// units.
const loudRMS = 1000

// audibleRMS is the level above which a 20 ms frame is more than silence:
// quiet speech is in the hundreds.
const audibleRMS = 100

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

// toneShare is the share of pcm's energy (8 kHz) at freq Hz, by the
// Goertzel algorithm: about 1 for a pure tone of that frequency, near 0 for
// speech or another tone.
func toneShare(pcm []int16, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2, energy float64
	for _, v := range pcm {
		x := float64(v)
		s1, s2 = x+coeff*s1-s2, s1
		energy += x * x
	}
	if energy == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * power / (float64(len(pcm)) * energy)
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
