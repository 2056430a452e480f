package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	msdk "github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/g711"
	"github.com/livekit/media-sdk/opus"
	protologger "github.com/livekit/protocol/logger"

	"github.com/dialq/dialq/internal/sipbridge/relay"
)

// serveCodec is the child process of the bridge benchmark's bare codec
// arms: the audio work of n bridged calls and nothing else (no network, no
// WebRTC, no mixing), on the same audio, at the bridge's pace. Every 20 ms,
// with -pipeline bridge, the bridge's own encoder and decoder
// (relay.OpusEncoder and OpusDecoder, so the same settings and frame
// sizes):
//
//   - phone → room: 160 samples of the phone's speech A-law-decoded and
//     encoded to one 20 ms Opus frame at 8 kHz (what the bridge's receive
//     loop does with the phone's packets);
//   - room → phone: one of the agents' Opus packets decoded at 8 kHz, then
//     A-law encode of the 160 samples (the pacer's work).
//
// With -pipeline livekit, the pipeline the issue gives as the bare codec
// cost, "G.711 decode + resample + Opus encode and the reverse", built from
// the pieces LiveKit's PCM tracks and livekit-sip use (media-sdk's soxr
// resampler and Opus writers, libopus defaults): A-law decode, 8 → 48 kHz,
// Opus encode at 48 kHz; Opus decode at 48 kHz, 48 → 8 kHz, A-law encode.
//
// Each call runs on its own goroutine at a random phase, as the bridge's
// calls do, so that the codecs find their caches as cold as in the bridge
// rather than warmed by a batch of calls done back to back. "report" on
// stdin prints "frames <n>": the 20 ms frames done so far, both directions
// of a call counting one.
func serveCodec(args []string) error {
	fs := flag.NewFlagSet("bridge-codec", flag.ExitOnError)
	n := fs.Int("streams", 1, "calls")
	pipeline := fs.String("pipeline", "bridge", "bridge (8 kHz Opus, the bridge's own) or livekit (48 kHz Opus behind soxr, the issue's reference)")
	fs.Parse(args)
	newStream := newCodecStream
	switch *pipeline {
	case "bridge":
	case "livekit":
		newStream = newLiveKitCodecStream
	default:
		return fmt.Errorf("-pipeline %q: want bridge or livekit", *pipeline)
	}

	ctx, cancel, cmds := childContext()
	defer cancel()
	alaw, err := phoneSpeech()
	if err != nil {
		return err
	}
	clip, err := agentClip()
	if err != nil {
		return err
	}
	streams := make([]codecFramer, *n)
	for i := range streams {
		if streams[i], err = newStream(alaw, clip); err != nil {
			return err
		}
	}
	var frames atomic.Int64
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(20 * time.Millisecond)))):
			case <-ctx.Done():
				return
			}
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				if err := s.frame(); err != nil {
					fmt.Fprintln(stderr, "codec:", err)
					cancel()
					return
				}
				frames.Add(1)
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	announce(fmt.Sprintf("%d streams", *n))
	var out stdoutLines
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case c := <-cmds:
			if c == "report" {
				out.println(fmt.Sprintf("frames %d", frames.Load()))
			}
		}
	}
}

// codecFramer is one call's codec work: frame does 20 ms of it both ways.
type codecFramer interface{ frame() error }

// codecStream is the codec state of one call in the bridge's pipeline.
type codecStream struct {
	alaw []byte   // the phone's speech
	clip [][]byte // the agents' Opus packets
	pos  int      // next A-law byte
	pkt  int      // next Opus packet

	pcm  []int16
	enc  *relay.OpusEncoder // 8 kHz PCM → Opus
	dec  *relay.OpusDecoder // Opus → 8 kHz PCM
	down alawFramer         // 8 kHz PCM → A-law
}

func newCodecStream(alaw []byte, clip [][]byte) (codecFramer, error) {
	enc, err := relay.NewOpusEncoder()
	if err != nil {
		return nil, err
	}
	dec, err := relay.NewOpusDecoder()
	if err != nil {
		return nil, err
	}
	return &codecStream{
		alaw: alaw, clip: clip,
		pos: 160 * rand.IntN(len(alaw)/160), pkt: rand.IntN(len(clip)),
		pcm: make([]int16, 160),
		enc: enc, dec: dec,
	}, nil
}

// frame does 20 ms of the call both ways.
func (s *codecStream) frame() error {
	if s.pos+160 > len(s.alaw) {
		s.pos = 0
	}
	g711.DecodeALawTo(s.pcm, s.alaw[s.pos:s.pos+160])
	s.pos += 160
	if _, err := s.enc.Encode(s.pcm); err != nil {
		return err
	}
	pcm, err := s.dec.Decode(s.clip[s.pkt], 0)
	s.pkt = (s.pkt + 1) % len(s.clip)
	if err != nil {
		return err
	}
	s.down.write(pcm)
	return nil
}

// alawFramer stands in for the bridge's mixer and pacer: it encodes the
// 8 kHz audio to A-law 160 samples at a time.
type alawFramer struct {
	buf []int16
	out [160]byte
}

func (f *alawFramer) write(pcm []int16) {
	f.buf = append(f.buf, pcm...)
	for len(f.buf) >= 160 {
		g711.EncodeALawTo(f.out[:], f.buf[:160])
		f.buf = f.buf[:copy(f.buf, f.buf[160:])]
	}
}

// liveKitCodecStream is the codec state of one call in the issue's
// reference pipeline, with LiveKit's pieces (see serveCodec).
type liveKitCodecStream struct {
	alaw []byte
	clip [][]byte
	pos  int
	pkt  int

	pcm  msdk.PCM16Sample
	up   msdk.PCM16Writer // 8 kHz → soxr → 48 kHz Opus encoder → discard
	down opus.Writer      // Opus decoder at 48 kHz → soxr → 8 kHz A-law
}

func newLiveKitCodecStream(alaw []byte, clip [][]byte) (codecFramer, error) {
	enc, err := opus.Encode(discardOpus{}, 1, protologger.GetLogger())
	if err != nil {
		return nil, err
	}
	dec, err := opus.Decode(msdk.ResampleWriter(&alawWriter{}, opusRate), 1, protologger.GetLogger())
	if err != nil {
		return nil, err
	}
	return &liveKitCodecStream{
		alaw: alaw, clip: clip,
		pos: 160 * rand.IntN(len(alaw)/160), pkt: rand.IntN(len(clip)),
		pcm: make(msdk.PCM16Sample, 160),
		up:  msdk.ResampleWriter(enc, 8000), down: dec,
	}, nil
}

func (s *liveKitCodecStream) frame() error {
	if s.pos+160 > len(s.alaw) {
		s.pos = 0
	}
	g711.DecodeALawTo(s.pcm, s.alaw[s.pos:s.pos+160])
	s.pos += 160
	if err := s.up.WriteSample(s.pcm); err != nil {
		return err
	}
	err := s.down.WriteSample(s.clip[s.pkt])
	s.pkt = (s.pkt + 1) % len(s.clip)
	return err
}

// opusRate is Opus's full band, what LiveKit's PCM tracks encode and
// decode at.
const opusRate = 48000

// discardOpus takes the 48 kHz encoder's packets and drops them.
type discardOpus struct{}

func (discardOpus) String() string                { return "discard" }
func (discardOpus) SampleRate() int               { return opusRate }
func (discardOpus) Close() error                  { return nil }
func (discardOpus) WriteSample(opus.Sample) error { return nil }

// alawWriter takes the resampler's 8 kHz audio and A-law-encodes it 160
// samples at a time, as alawFramer does.
type alawWriter struct{ f alawFramer }

func (*alawWriter) String() string  { return "A-law" }
func (*alawWriter) SampleRate() int { return 8000 }
func (*alawWriter) Close() error    { return nil }

func (w *alawWriter) WriteSample(pcm msdk.PCM16Sample) error {
	w.f.write(pcm)
	return nil
}
