package relay

import (
	"math/rand/v2"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Opus's RTP clock runs at 48 kHz whatever the audio's rate (RFC 7587): a
// frame of the phone's 8 kHz audio advances it 6 ticks a sample, 960 a
// frame.
const (
	opusClock          = 48000
	opusTicksPerSample = opusClock / sampleRate
	opusFrameTicks     = frameSamples * opusTicksPerSample
)

// phoneCodec is the codec of the phone's track as WebRTC has Opus: 48 kHz,
// two channels, whatever the encoder sends.
var phoneCodec = webrtc.RTPCodecCapability{
	MimeType:    webrtc.MimeTypeOpus,
	ClockRate:   opusClock,
	Channels:    2,
	SDPFmtpLine: "minptime=10;useinbandfec=1",
}

// maxPhoneGap is the longest jump forward in the phone's RTP timestamps,
// 5 s, that the track takes as a gap in the phone's audio. A longer one, or
// one backwards, starts a new stream, whose place the clock gives instead.
const maxPhoneGap = 5 * sampleRate

// sampleWriter is where the phone's Opus frames go: its *lksdk.LocalTrack.
type sampleWriter interface {
	WriteSample(media.Sample, *lksdk.SampleWriteOptions) error
}

// phoneTrack turns the phone's G.711 packets into the Opus frames of its
// track in the room as they arrive: the receive loop decodes each packet,
// encodes it 20 ms at a time and hands the frames to the track at once.
// Nothing waits in between except what is left of a frame when the phone's
// packets are not 20 ms long (less than a frame), so the track can never
// lag behind the phone: while the phone sends nothing (loss, hold, silence
// suppression) the track sends nothing either, and its timestamps then jump
// over the gap as the phone's did, so that the agent's jitter buffer sees
// the time that passed rather than a late packet. It is used by the receive
// loop only, and before the answer by the ringback (writeLocal).
type phoneTrack struct {
	out sampleWriter
	enc *OpusEncoder
	pcm []int16 // decoded, not yet encoded: less than a frame between packets

	started bool
	// local says the last frame was dialq's own (the ringback): the
	// phone's first packet starts a new stream after it.
	local  bool
	ssrc   uint32
	next   uint32    // the phone's RTP timestamp right after pcm
	ts     uint32    // the track's RTP timestamp of pcm[0]
	sentAt time.Time // when the last frame went to the track
}

func newPhoneTrack(out sampleWriter) (*phoneTrack, error) {
	enc, err := NewOpusEncoder()
	if err != nil {
		return nil, err
	}
	// Room for a frame less one sample, plus a packet of 1500 bytes.
	return &phoneTrack{out: out, enc: enc, pcm: make([]int16, 0, frameSamples+1500)}, nil
}

// write takes one audio packet from the phone, received at now: ssrc and ts
// from its RTP header, its payload in payload type pt. Returns the first
// error encoding or writing a frame; the track goes on with the next packet.
func (p *phoneTrack) write(ssrc, ts uint32, pt uint8, payload []byte, now time.Time) error {
	p.align(ssrc, ts, now)
	p.pcm = appendG711(p.pcm, pt, payload)
	p.next = ts + uint32(len(payload))
	var firstErr error
	for len(p.pcm) >= frameSamples {
		pkt, err := p.enc.Encode(p.pcm[:frameSamples])
		if err == nil {
			err = p.out.WriteSample(media.Sample{Data: pkt, Duration: frameDur, PacketTimestamp: p.ts}, nil)
		}
		if firstErr == nil {
			firstErr = err
		}
		p.ts += opusFrameTicks
		p.sentAt = now
		p.pcm = p.pcm[:copy(p.pcm, p.pcm[frameSamples:])]
	}
	return firstErr
}

// writeLocal sends frame, 20 ms of audio dialq makes itself (the ringback
// before the answer), as the track's next frame, at now. It is used by one
// goroutine at a time: the ringback's until the answer, the receive loop's
// from then on. Returns an error if frame is not 20 ms, or encoding or
// writing it failed.
func (p *phoneTrack) writeLocal(frame []int16, now time.Time) error {
	if !p.started {
		p.started, p.ts = true, rand.Uint32()
	}
	p.local, p.pcm = true, p.pcm[:0]
	pkt, err := p.enc.Encode(frame)
	if err == nil {
		err = p.out.WriteSample(media.Sample{Data: pkt, Duration: frameDur, PacketTimestamp: p.ts}, nil)
	}
	p.ts += opusFrameTicks
	p.sentAt = now
	return err
}

// align places a packet at timestamp ts of stream ssrc on the track's
// timeline, dropping what is left of a frame if the packet does not follow
// it.
func (p *phoneTrack) align(ssrc, ts uint32, now time.Time) {
	gap := ts - p.next
	same := ssrc == p.ssrc && !p.local
	switch {
	case !p.started:
		p.started, p.ts = true, rand.Uint32()
	case same && gap == 0:
		return
	case same && gap < maxPhoneGap:
		// The phone skipped ahead: the packet's audio goes where the
		// phone put it, measured from the start of pcm.
		p.ts += (gap + uint32(len(p.pcm))) * opusTicksPerSample
	case !p.sentAt.IsZero():
		// A new stream: it starts after the frames that fit in the time
		// since the last one, so that the track keeps to real time.
		if idle := now.Sub(p.sentAt); idle > 2*frameDur {
			p.ts += uint32(idle/frameDur-1) * opusFrameTicks
		}
	}
	p.ssrc, p.local, p.pcm = ssrc, false, p.pcm[:0]
}
