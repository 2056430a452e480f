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
)

// serveCodec is the child process of the bridge benchmark's bare codec
// arm: the audio work of n bridged calls and nothing else (no network, no
// WebRTC, no mixing), with the media-sdk building blocks the bridge uses,
// on the same audio, at the bridge's pace:
//
//   - phone → room, every 10 ms (PCMLocalTrack's pace): 80 samples of the
//     phone's speech A-law-decoded, resampled 8 → 48 kHz (soxr) and
//     Opus-encoded;
//   - room → phone, every 20 ms: what PCMRemoteTrack does with one of the
//     agents' Opus packets (decode, resample 48 → 8 kHz), then A-law encode
//     of the 160 samples (the pacer's work).
//
// Each call runs on its own goroutine at a random phase, as the bridge's
// calls do, so that the codecs find their caches as cold as in the bridge
// rather than warmed by a batch of calls done back to back. "report" on
// stdin prints "frames <n>": the 20 ms frames done so far, both directions
// of a call counting one.
func serveCodec(args []string) error {
	fs := flag.NewFlagSet("bridge-codec", flag.ExitOnError)
	n := fs.Int("streams", 1, "calls")
	fs.Parse(args)

	ctx, cancel, cmds := commandContext()
	defer cancel()
	alaw, err := phoneSpeech()
	if err != nil {
		return err
	}
	clip, err := agentClip()
	if err != nil {
		return err
	}
	streams := make([]*codecStream, *n)
	for i := range streams {
		if streams[i], err = newCodecStream(alaw, clip); err != nil {
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
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for half := 0; ; half ^= 1 {
				if err := s.tick(half == 1); err != nil {
					fmt.Fprintln(stderr, "codec:", err)
					cancel()
					return
				}
				if half == 1 {
					frames.Add(1)
				}
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

// codecStream is the codec state of one call.
type codecStream struct {
	alaw []byte   // the phone's speech
	clip [][]byte // the agents' Opus packets
	pos  int      // next A-law byte
	pkt  int      // next Opus packet

	pcm  msdk.PCM16Sample
	up   msdk.PCM16Writer // 8 kHz PCM → 48 kHz → Opus
	down opus.Writer      // Opus → 48 kHz PCM → 8 kHz → A-law
}

func newCodecStream(alaw []byte, clip [][]byte) (*codecStream, error) {
	log := protologger.GetLogger()
	enc, err := opus.Encode(discardOpus{}, 1, log)
	if err != nil {
		return nil, err
	}
	dec, err := opus.Decode(msdk.ResampleWriter(&alawFramer{}, 48000), 1, log)
	if err != nil {
		return nil, err
	}
	return &codecStream{
		alaw: alaw, clip: clip,
		pos: 80 * rand.IntN(len(alaw)/80), pkt: rand.IntN(len(clip)),
		pcm: make(msdk.PCM16Sample, 80),
		up:  msdk.ResampleWriter(enc, 8000), down: dec,
	}, nil
}

// tick does 10 ms of the phone's audio and, every other tick (second),
// 20 ms of the agent's.
func (s *codecStream) tick(second bool) error {
	if s.pos+80 > len(s.alaw) {
		s.pos = 0
	}
	g711.DecodeALawTo(s.pcm, s.alaw[s.pos:s.pos+80])
	s.pos += 80
	if err := s.up.WriteSample(s.pcm); err != nil {
		return err
	}
	if !second {
		return nil
	}
	err := s.down.WriteSample(s.clip[s.pkt])
	s.pkt = (s.pkt + 1) % len(s.clip)
	return err
}

// discardOpus stands in for the WebRTC track at the end of PCMLocalTrack.
type discardOpus struct{}

func (discardOpus) String() string                { return "opus sink" }
func (discardOpus) SampleRate() int               { return 48000 }
func (discardOpus) Close() error                  { return nil }
func (discardOpus) WriteSample(opus.Sample) error { return nil }

// alawFramer stands in for the bridge's mixer and pacer: it encodes the
// 8 kHz audio to A-law 160 samples at a time.
type alawFramer struct {
	buf []int16
	out [160]byte
}

func (*alawFramer) String() string  { return "a-law framer" }
func (*alawFramer) SampleRate() int { return 8000 }
func (*alawFramer) Close() error    { return nil }

func (f *alawFramer) WriteSample(pcm msdk.PCM16Sample) error {
	f.buf = append(f.buf, pcm...)
	for len(f.buf) >= 160 {
		g711.EncodeALawTo(f.out[:], f.buf[:160])
		f.buf = f.buf[:copy(f.buf, f.buf[160:])]
	}
	return nil
}
