package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	msdk "github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/g711"
	"github.com/livekit/media-sdk/opus"
	protologger "github.com/livekit/protocol/logger"
)

// phonePCAP is the speech the bridge benchmark's phone says: PCMA, 30 ms
// packets, 7.08 s, shipped with Debian's sip-tester.
const phonePCAP = "/usr/share/sip-tester/g711a.pcap"

// phoneSpeech returns the phone's speech as one G.711 A-law stream: the
// RTP payloads of the pcap end to end. It reads classic pcap files of
// Ethernet frames of IPv4/UDP packets, as sip-tester's are.
func phoneSpeech() ([]byte, error) {
	b, err := os.ReadFile(phonePCAP)
	if err != nil {
		return nil, fmt.Errorf("the phone's speech (install sip-tester): %w", err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if len(b) >= 24 && binary.BigEndian.Uint32(b) == 0xa1b2c3d4 {
		order = binary.BigEndian
	}
	if len(b) < 24 || order.Uint32(b) != 0xa1b2c3d4 || order.Uint32(b[20:]) != 1 {
		return nil, fmt.Errorf("%s: not a classic pcap file of Ethernet frames", phonePCAP)
	}
	var alaw []byte
	for off := 24; off+16 <= len(b); {
		n := int(order.Uint32(b[off+8:]))
		off += 16
		if off+n > len(b) {
			break
		}
		pkt := b[off : off+n]
		off += n
		if len(pkt) < 14+20 {
			continue
		}
		ip := pkt[14:] // after the Ethernet header
		ihl := int(ip[0]&0x0f) * 4
		if ip[0]>>4 != 4 || ip[9] != 17 || len(ip) < ihl+8+12 {
			continue
		}
		rtp := ip[ihl+8:]
		if hdr := 12 + 4*int(rtp[0]&0x0f); rtp[0]>>6 == 2 && len(rtp) >= hdr {
			if pt := rtp[1] & 0x7f; pt != 8 {
				return nil, fmt.Errorf("%s: payload type %d, want 8 (PCMA)", phonePCAP, pt)
			}
			alaw = append(alaw, rtp[hdr:]...)
		}
	}
	if len(alaw) == 0 {
		return nil, fmt.Errorf("%s: no RTP packets", phonePCAP)
	}
	return alaw, nil
}

// agentClip returns what the agents say: the phone's speech encoded once
// as an agent would send it, 20 ms Opus packets at 48 kHz (resampled from
// 8 kHz, as an agent's full-band track would be). The agents loop it; the
// bare codec arm decodes the same packets, at 8 kHz as the bridge does.
func agentClip() ([][]byte, error) {
	alaw, err := phoneSpeech()
	if err != nil {
		return nil, err
	}
	sink := &opusCollector{}
	enc, err := opus.Encode(sink, 1, protologger.GetLogger())
	if err != nil {
		return nil, err
	}
	up := msdk.ResampleWriter(enc, 8000)
	pcm := make(msdk.PCM16Sample, 160)
	for off := 0; off+160 <= len(alaw); off += 160 {
		g711.DecodeALawTo(pcm, alaw[off:off+160])
		if err := up.WriteSample(pcm); err != nil {
			return nil, err
		}
	}
	if len(sink.packets) == 0 {
		return nil, errors.New("encoding the agents' clip gave no Opus packets")
	}
	return sink.packets, nil
}

// opusCollector keeps the Opus packets an encoder writes.
type opusCollector struct{ packets [][]byte }

func (*opusCollector) String() string  { return "opus collector" }
func (*opusCollector) SampleRate() int { return 48000 }
func (*opusCollector) Close() error    { return nil }

func (c *opusCollector) WriteSample(p opus.Sample) error {
	c.packets = append(c.packets, append([]byte(nil), p...))
	return nil
}
