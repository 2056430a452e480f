package relay

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/pion/rtp"

	"github.com/livekit/media-sdk/g711"
)

// G.711's clock and the frame both directions use.
const (
	sampleRate   = 8000
	frameMillis  = 20
	frameDur     = frameMillis * time.Millisecond
	frameSamples = sampleRate * frameMillis / 1000
)

// maxReadErrors is how many failed reads in a row make the receive loop give
// up (a socket that fails for good would otherwise spin).
const maxReadErrors = 100

// receive is the phone → room loop: it reads the phone's RTP until Close
// closes the port, sends the audio to the room's track and the
// telephone-events to the DTMF detector.
func (s *Session) receive() {
	defer s.loops.Done()
	var (
		buf    = make([]byte, 1500)
		pkt    rtp.Packet
		seq    seqFilter
		dtmf   dtmfDetector
		errRun int
		failed bool // the last audio packet did not reach the track
	)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errRun++; errRun >= maxReadErrors {
				s.log.Error("RTP port keeps failing; no more audio from the phone", "error", err)
				return
			}
			continue
		}
		errRun = 0
		if pkt.Unmarshal(buf[:n]) != nil {
			s.stats.dropped.Add(1)
			continue
		}
		now := time.Now()
		audioPT, dtmfPT, ok := s.accept(netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), now)
		if !ok {
			s.stats.dropped.Add(1)
			continue
		}
		switch {
		case dtmfPT >= 0 && pkt.PayloadType == uint8(dtmfPT):
			s.stats.in.Add(1)
			for _, k := range dtmf.packet(pkt.Timestamp, pkt.Payload) {
				s.publishDTMF(k)
			}
		case pkt.PayloadType == audioPT && seq.next(pkt.SSRC, pkt.SequenceNumber):
			s.stats.in.Add(1)
			err := s.phone.write(pkt.SSRC, pkt.Timestamp, audioPT, pkt.Payload, now)
			if err != nil && !failed {
				s.log.Warn("cannot send the phone's audio to the room", "error", err)
			}
			failed = err != nil
		default:
			s.stats.dropped.Add(1)
		}
	}
}

// accept decides whether a packet from the address from belongs to the call
// and returns the payload types it may carry. Only the answered call's phone
// is heard: the address in its SDP answer or, if the very first packet comes
// from another port of that IP (a NAT in the way, or a media server that
// sends from another port than it listens on), that port — symmetric RTP,
// the frames to the phone then go there too.
func (s *Session) accept(from netip.AddrPort, now time.Time) (audioPT uint8, dtmfPT int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != callStatusActive {
		return 0, 0, false
	}
	if from != s.remote {
		if s.latched || from.Addr() != s.remote.Addr() {
			return 0, 0, false
		}
		s.log.Info("phone sends RTP from another port; sending to it", "sdp_addr", s.remote.String(), "rtp_addr", from.String())
		s.remote = from
	}
	s.latched = true
	s.heardAt = now
	return s.audioPT, s.dtmfPT, true
}

// appendG711 decodes payload, in payload type pt, and appends it to dst.
func appendG711(dst []int16, pt uint8, payload []byte) []int16 {
	n := len(dst)
	dst = slices.Grow(dst, len(payload))[:n+len(payload)]
	if pt == PayloadTypePCMA {
		g711.DecodeALawTo(dst[n:], payload)
	} else {
		g711.DecodeULawTo(dst[n:], payload)
	}
	return dst
}

// restartGap is how far behind the last sequence number a packet must be to
// mean the sender restarted its numbering rather than arrived late: 200
// packets is 4 s of 20 ms audio, far beyond any reordering.
const restartGap = 200

// seqFilter drops the phone's duplicate packets and those that arrive after
// a later one was already played (reordered): a late frame is worth less
// than the gap it would fill. A new SSRC, or a jump far back, starts over.
type seqFilter struct {
	started bool
	ssrc    uint32
	last    uint16
}

// next reports whether the packet ssrc/seq should be played.
func (f *seqFilter) next(ssrc uint32, seq uint16) bool {
	if f.started && ssrc == f.ssrc {
		d := int16(seq - f.last)
		if d <= 0 && d > -restartGap {
			return false
		}
	}
	f.started, f.ssrc, f.last = true, ssrc, seq
	return true
}
