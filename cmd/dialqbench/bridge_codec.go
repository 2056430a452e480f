package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"

	msdk "github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/g711"
	"github.com/livekit/media-sdk/opus"
	protologger "github.com/livekit/protocol/logger"

	"github.com/dialq/dialq/internal/sipbridge/relay"
)

// codecConfig is a bare codec arm's child config.
type codecConfig struct {
	Streams int // calls
	// Pipeline is "bridge" (8 kHz Opus, the bridge's own) or "livekit" (48
	// kHz Opus behind soxr, the reference).
	Pipeline string
}

// serveCodec is the child process of the bridge benchmark's bare codec
// arms: the audio work of n bridged calls and nothing else (no network, no
// WebRTC, no mixing), on the same audio, at the bridge's pace. Every 20 ms,
// with the pipeline "bridge", the bridge's own encoder and decoder
// (relay.OpusEncoder and OpusDecoder, so the same settings and frame
// sizes):
//
//   - phone → room: 160 samples of the phone's speech A-law-decoded and
//     encoded to one 20 ms Opus frame at 8 kHz (what the bridge's receive
//     loop does with the phone's packets);
//   - room → phone: one of the agents' Opus packets decoded at 8 kHz, then
//     A-law encode of the 160 samples (the pacer's work).
//
// With "livekit", the pipeline the issue gives as the bare codec cost,
// "G.711 decode + resample + Opus encode and the reverse", built from the
// pieces LiveKit's PCM tracks and livekit-sip use (media-sdk's soxr
// resampler and Opus writers, libopus defaults): A-law decode, 8 → 48 kHz,
// Opus encode at 48 kHz; Opus decode at 48 kHz, 48 → 8 kHz, A-law encode.
//
// Each call runs on its own goroutine at a random phase, as the bridge's
// calls do, so that the codecs find their caches as cold as in the bridge
// rather than warmed by a batch of calls done back to back. "report" on
// stdin prints "frames <n>": the 20 ms frames done so far, both directions
// of a call counting one.
func serveCodec(ctx context.Context, cmds <-chan string, c codecConfig) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	newCall := map[string]func() (codecCall, error){"bridge": bridgeCodec, "livekit": liveKitCodec}[c.Pipeline]
	if newCall == nil {
		return fmt.Errorf("pipeline %q: want bridge or livekit", c.Pipeline)
	}
	alaw, err := phoneSpeech()
	if err != nil {
		return err
	}
	clip, err := agentClip()
	if err != nil {
		return err
	}
	var frames atomic.Int64
	var wg sync.WaitGroup
	for range c.Streams {
		call, err := newCall()
		if err != nil {
			return err
		}
		pos, pkt := 160*rand.IntN(len(alaw)/160), rand.IntN(len(clip))
		wg.Go(func() {
			paced(ctx, func() bool {
				if pos+160 > len(alaw) {
					pos = 0
				}
				err := call.up(alaw[pos : pos+160])
				if err == nil {
					err = call.down(clip[pkt])
				}
				pos, pkt = pos+160, (pkt+1)%len(clip)
				if err != nil {
					fmt.Fprintln(os.Stderr, "codec:", err)
					cancel()
					return false
				}
				frames.Add(1)
				return true
			})
		})
	}
	say("ready", c.Streams)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case cmd := <-cmds:
			if cmd == "report" {
				say("frames", frames.Load())
			}
		}
	}
}

// codecCall is one call's codec work, 20 ms of it each way: up takes 160
// A-law bytes of the phone's, down one Opus packet of the agent's.
type codecCall struct {
	up   func(alaw []byte) error
	down func(opus []byte) error
}

// bridgeCodec is one call in the bridge's pipeline.
func bridgeCodec() (codecCall, error) {
	enc, err := relay.NewOpusEncoder() // 8 kHz PCM → Opus
	if err != nil {
		return codecCall{}, err
	}
	dec, err := relay.NewOpusDecoder() // Opus → 8 kHz PCM
	if err != nil {
		return codecCall{}, err
	}
	pcm := make([]int16, 160)
	var toPhone alawFramer // stands in for the bridge's mixer and pacer
	return codecCall{
		up: func(alaw []byte) error {
			g711.DecodeALawTo(pcm, alaw)
			_, err := enc.Encode(pcm)
			return err
		},
		down: func(p []byte) error {
			pcm, err := dec.Decode(p, 0)
			toPhone.WriteSample(pcm)
			return err
		},
	}, nil
}

// liveKitCodec is one call in the reference pipeline, with
// LiveKit's pieces (see serveCodec).
func liveKitCodec() (codecCall, error) {
	enc, err := opus.Encode(discardOpus{}, 1, protologger.GetLogger())
	if err != nil {
		return codecCall{}, err
	}
	dec, err := opus.Decode(msdk.ResampleWriter(&alawFramer{}, opusRate), 1, protologger.GetLogger())
	if err != nil {
		return codecCall{}, err
	}
	up := msdk.ResampleWriter(enc, 8000) // 8 kHz → soxr → 48 kHz Opus encoder → discard
	pcm := make(msdk.PCM16Sample, 160)
	return codecCall{
		up: func(alaw []byte) error {
			g711.DecodeALawTo(pcm, alaw)
			return up.WriteSample(pcm)
		},
		down: func(p []byte) error { return dec.WriteSample(p) }, // 48 kHz decoder → soxr → 8 kHz A-law
	}, nil
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

// alawFramer takes 8 kHz audio and A-law-encodes it 160 samples at a time.
type alawFramer struct {
	buf []int16
	out [160]byte
}

func (*alawFramer) String() string  { return "A-law" }
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
