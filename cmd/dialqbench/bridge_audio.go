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

// pcapAudio returns the RTP payloads of the pcap at path, in order, and
// their payload type. It reads classic pcap files of IPv4/UDP packets
// (Ethernet, Linux cooked, raw IP or BSD loopback link types).
func pcapAudio(path string) (payloads [][]byte, pt uint8, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < 24 {
		return nil, 0, fmt.Errorf("%s: not a pcap file", path)
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, 0, fmt.Errorf("%s: not a classic pcap file", path)
	}
	var linkHeader int
	switch lt := order.Uint32(b[20:]); lt {
	case 1: // Ethernet
		linkHeader = 14
	case 113: // Linux cooked
		linkHeader = 16
	case 101, 12: // raw IP
		linkHeader = 0
	case 0: // BSD loopback
		linkHeader = 4
	default:
		return nil, 0, fmt.Errorf("%s: link type %d not supported", path, lt)
	}
	for off := 24; off+16 <= len(b); {
		n := int(order.Uint32(b[off+8:]))
		off += 16
		if off+n > len(b) {
			break
		}
		pkt := b[off : off+n]
		off += n
		if len(pkt) < linkHeader+20 {
			continue
		}
		ip := pkt[linkHeader:]
		if ip[0]>>4 != 4 || ip[9] != 17 {
			continue
		}
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) < ihl+8+12 {
			continue
		}
		rtp := ip[ihl+8:]
		if rtp[0]>>6 != 2 {
			continue
		}
		hdr := 12 + 4*int(rtp[0]&0x0f)
		if len(rtp) < hdr {
			continue
		}
		pt = rtp[1] & 0x7f
		payloads = append(payloads, append([]byte(nil), rtp[hdr:]...))
	}
	if len(payloads) == 0 {
		return nil, 0, fmt.Errorf("%s: no RTP packets", path)
	}
	return payloads, pt, nil
}

// phoneSpeech returns the phone's speech as one G.711 A-law stream (the
// pcap's payloads end to end).
func phoneSpeech() ([]byte, error) {
	payloads, pt, err := pcapAudio(phonePCAP)
	if err != nil {
		return nil, fmt.Errorf("the phone's speech (install sip-tester): %w", err)
	}
	if pt != 8 {
		return nil, fmt.Errorf("%s: payload type %d, want 8 (PCMA)", phonePCAP, pt)
	}
	var alaw []byte
	for _, p := range payloads {
		alaw = append(alaw, p...)
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
