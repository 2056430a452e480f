package relay

import (
	"fmt"

	"gopkg.in/hraban/opus.v2"
)

// The Opus side of the bridge runs at G.711's 8 kHz both ways: the phone's
// audio never had more than a 4 kHz band, so encoding it at 48 kHz (and
// decoding the agent at 48 kHz only to throw away all but 4 kHz of it) costs
// a resampler each way and an encoder five times busier for nothing anyone
// on the phone can hear. Opus packets carry no sample rate: a decoder at
// 48 kHz plays the 8 kHz encoder's narrowband packets, and a decoder at
// 8 kHz plays any packet an agent sends.
//
// Encoder settings, measured on the benchmark's phone speech (sip-tester's
// g711a.pcap, 7 s of A-law) on this project's 2-core Xeon, libopus 1.3.1;
// "LSD" is the log-spectral distance to the A-law input over 125-3400 Hz in
// active 20 ms frames, lower is closer:
//
//	encoder                          µs/20 ms   kbit/s   LSD dB
//	soxr 8 → 48 kHz, 48 kHz, 10 ms     263      49      3.8   (PCMLocalTrack, before)
//	8 kHz, 20 ms, complexity 5, 16k       54      14      4.6
//	8 kHz, 20 ms, complexity 5, 20k       56      18      3.7
//	8 kHz, 20 ms, complexity 5, 24k       56      21      3.0
//	8 kHz, 20 ms, complexity 5, 32k       57      29      2.0
//	8 kHz, 20 ms, complexity 1, 24k       28      21      2.9
//	8 kHz, 20 ms, complexity 10, 24k      99      22      2.9
//
// 24 kbit/s is closer to the phone's audio than the old pipeline was at half
// its bitrate, and the bitrate costs next to no CPU. Complexity does not
// show in that measure, but SILK leaves out its warped (perceptual) noise
// shaping and interpolated LSFs below 4, and its delayed-decision quantizer
// below 2: 5 keeps them for about 28 µs more per frame than 1 (0.14% of a
// core per call) and costs half of 10, whose further quantizer states and
// pitch search bought nothing measurable here. In-band FEC stays off: with
// it, at 20 kbit/s and up, the encoder cost 30% more and the audio was
// further from the input when nothing was lost; the bridge reaches LiveKit
// from a server, not over a mobile link, and the agent's decoder conceals a
// lost frame anyway. DTX stays off too: a phone line is never digitally
// silent, and the agent's voice activity detection expects a continuous
// stream.
const (
	opusBitrate    = 24000
	opusComplexity = 5
)

// opusMaxSamples is the longest Opus packet, 120 ms, at 8 kHz.
const opusMaxSamples = 120 * sampleRate / 1000

// maxConcealed is the most audio the decoder makes up for packets lost
// before the one it decodes: past 100 ms, concealment only drones on, and
// the audio it would add is late anyway.
const maxConcealed = 100 * sampleRate / 1000

// OpusEncoder encodes the phone's audio for its track in the room: 20 ms
// frames of 8 kHz mono (frameSamples samples), one Opus packet each, with
// the settings above. The bridge and its benchmark's bare codec arm both use
// it, so that the benchmark measures the bridge's own codec work. It is not
// safe for concurrent use.
type OpusEncoder struct {
	enc *opus.Encoder
	buf []byte
}

// NewOpusEncoder returns an encoder for the phone's audio. Returns an error
// if libopus refuses a setting.
func NewOpusEncoder() (*OpusEncoder, error) {
	enc, err := opus.NewEncoder(sampleRate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("opus encoder: %w", err)
	}
	if err := enc.SetBitrate(opusBitrate); err != nil {
		return nil, fmt.Errorf("opus encoder bitrate: %w", err)
	}
	if err := enc.SetComplexity(opusComplexity); err != nil {
		return nil, fmt.Errorf("opus encoder complexity: %w", err)
	}
	// 1275 bytes is the largest Opus frame.
	return &OpusEncoder{enc: enc, buf: make([]byte, 1275)}, nil
}

// Encode encodes one 20 ms frame of 8 kHz mono audio and returns the
// packet, valid until the next call. Returns an error if frame is not
// frameSamples long.
func (e *OpusEncoder) Encode(frame []int16) ([]byte, error) {
	if len(frame) != frameSamples {
		return nil, fmt.Errorf("opus encode: frame of %d samples, want %d", len(frame), frameSamples)
	}
	n, err := e.enc.Encode(frame, e.buf)
	if err != nil {
		return nil, fmt.Errorf("opus encode: %w", err)
	}
	return e.buf[:n], nil
}

// OpusDecoder decodes a room track's Opus packets, whatever their rate and
// channels, to 8 kHz mono for the mix sent to the phone. The bridge and its
// benchmark's bare codec arm both use it. It is not safe for concurrent use.
type OpusDecoder struct {
	dec  *opus.Decoder
	buf  []int16
	last int // samples in the last packet decoded
}

// NewOpusDecoder returns a decoder for a room track. Returns an error if
// libopus cannot make one.
func NewOpusDecoder() (*OpusDecoder, error) {
	dec, err := opus.NewDecoder(sampleRate, 1)
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %w", err)
	}
	// Room for the longest packet after the most audio conceal makes up:
	// at most maxConcealed, or one lost packet of the longest kind.
	return &OpusDecoder{dec: dec, buf: make([]int16, max(maxConcealed, opusMaxSamples)+opusMaxSamples)}, nil
}

// Decode decodes packet, after making up for lost packets that were lost
// just before it (from the redundancy packet carries for the last of them
// if its sender added any, by concealment otherwise; 100 ms at most), and
// returns the audio, valid until the next call. Returns an error if packet
// is not Opus; the decoder stays usable.
func (d *OpusDecoder) Decode(packet []byte, lost int) ([]int16, error) {
	n := 0
	if lost > 0 {
		n = d.conceal(packet, lost)
	}
	m, err := d.dec.Decode(packet, d.buf[n:n+opusMaxSamples])
	if err != nil {
		return d.buf[:n], fmt.Errorf("opus decode: %w", err)
	}
	d.last = m
	return d.buf[:n+m], nil
}

// conceal writes lost packets' worth of made-up audio to the start of buf
// and returns how many samples it wrote. libopus wants each call to ask for
// exactly a lost packet's duration, which it takes to be the last one's.
func (d *OpusDecoder) conceal(next []byte, lost int) int {
	dur, err := d.dec.LastPacketDuration()
	if err != nil || dur <= 0 || dur > opusMaxSamples {
		dur = frameSamples
	}
	lost = min(lost, max(1, maxConcealed/dur))
	n := 0
	for i := range lost {
		out := d.buf[n : n+dur : n+dur] // libopus takes the capacity as the duration
		if i == lost-1 {
			err = d.dec.DecodeFEC(next, out)
		} else {
			err = d.dec.DecodePLC(out)
		}
		if err != nil {
			break
		}
		n += dur
	}
	return n
}
