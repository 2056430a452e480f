package testroom

import (
	"math"
	"slices"
)

// SampleRate is the rate of all audio here: G.711's 8 kHz, at which the
// bridge carries calls.
const SampleRate = 8000

// FrameSamples is one 20 ms frame at SampleRate.
const FrameSamples = SampleRate / 50

// LoudRMS is the level above which a 20 ms frame counts as sound: a Tone is
// at RMS 5657 and recorded speech mostly above 1000, while G.711 silence
// decodes to 0 (μ-law) or ±8 (A-law) and Opus silence to a few units.
const LoudRMS = 1000

// AudibleRMS is the level above which a 20 ms frame is more than silence:
// quiet speech is in the hundreds.
const AudibleRMS = 100

// Tone generates a sine of Freq Hz at SampleRate, at a speaking level.
type Tone struct {
	Freq  float64
	phase float64
}

// Next returns the tone's next n samples.
func (g *Tone) Next(n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(g.phase))
		g.phase += 2 * math.Pi * g.Freq / SampleRate
	}
	return out
}

// RMS is the root mean square of pcm, 0 for no samples.
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// Loud reports whether frame is louder than LoudRMS: sound, not silence.
func Loud(frame []int16) bool { return RMS(frame) > LoudRMS }

// LoudFrames returns the 20 ms frames of pcm that are Loud, joined.
func LoudFrames(pcm []int16) []int16 { return keepFrames(pcm, Loud) }

// keepFrames returns the whole 20 ms frames of pcm that satisfy keep,
// joined.
func keepFrames(pcm []int16, keep func(frame []int16) bool) []int16 {
	var out []int16
	for ; len(pcm) >= FrameSamples; pcm = pcm[FrameSamples:] {
		if keep(pcm[:FrameSamples]) {
			out = append(out, pcm[:FrameSamples]...)
		}
	}
	return out
}

// ToneShare is the share of pcm's energy at freq Hz, by the Goertzel
// algorithm: about 1 for a pure tone of that frequency, near 0 for speech
// or another tone.
func ToneShare(pcm []int16, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/SampleRate)
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

// Frequency estimates the main frequency of pcm from its zero crossings. A
// crossing counts only once the signal got past ±1000 on the other side, so
// codec noise around zero does not add crossings.
func Frequency(pcm []int16) float64 {
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
	return float64(crossings) / 2 / (float64(len(pcm)) / SampleRate)
}

// FrameFrequency estimates the main frequency of audio that may have quiet
// stretches (frames a jitter buffer filled in part, packets lost on a busy
// host): in each 20 ms frame it counts the zero crossings between the
// frame's first and last sample past ±1000 and divides by that stretch, not
// by the whole frame; it returns the median over the frames with a tone in
// them. Frequency, over a whole signal, reads such audio as lower than it is.
func FrameFrequency(pcm []int16) float64 {
	var estimates []float64
	for start := 0; start+FrameSamples <= len(pcm); start += FrameSamples {
		frame := pcm[start : start+FrameSamples]
		first, last, crossings := -1, -1, 0
		positive := false
		for i, v := range frame {
			if v > -1000 && v < 1000 {
				continue
			}
			if first >= 0 && (v > 0) != positive {
				crossings++
				last = i
			}
			if first < 0 {
				first = i
			}
			positive = v > 0
		}
		if crossings < 4 || last <= first {
			continue // no tone in this frame
		}
		estimates = append(estimates, float64(crossings)/2/(float64(last-first)/SampleRate))
	}
	if len(estimates) == 0 {
		return 0
	}
	slices.Sort(estimates)
	return estimates[len(estimates)/2]
}
