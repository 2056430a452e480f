package relay

import (
	"errors"
	"net"
	"time"

	"github.com/pion/rtp"

	"github.com/livekit/media-sdk/g711"
)

// maxBehind is how far the pacer may fall behind its schedule (the process
// stalled) before it skips frames instead of sending them in a burst the
// phone would have to drop anyway.
const maxBehind = 3 * frameDur

// skipWarnEvery is the least time between two of a call's warnings that
// its pacer fell behind: a machine that stalls stalls every call, and a line
// per call and stall would bury the log.
const skipWarnEvery = 5 * time.Second

// skipLog rate-limits the pacer's warning about skipped frames.
type skipLog struct {
	warned  time.Time // the last warning; zero before the first
	pending int64     // frames skipped since, not yet in a warning
}

// note records n frames skipped at now and reports whether to warn, with
// the frames skipped since the last warning, n included.
func (l *skipLog) note(now time.Time, n int64) (frames int64, warn bool) {
	l.pending += n
	if !l.warned.IsZero() && now.Sub(l.warned) < skipWarnEvery {
		return 0, false
	}
	frames, l.pending, l.warned = l.pending, 0, now
	return frames, true
}

// pace is the room → phone loop: from start on, every 20 ms, it mixes the
// room's audio into one frame and sends it to the phone as G.711 RTP. It
// keeps its own schedule (start + n × 20 ms on the monotonic clock), so
// timer delays do not add up into drift, and it sends even when nobody in
// the room speaks: silence keeps the phone's jitter buffer fed and NAT
// bindings open. On hold nothing is sent, but the timestamps go on with the
// clock and the first frame after carries the marker bit. A DTMF digit
// being sent (SendDTMF) takes the place of the frames it lasts: each of
// them carries one of its telephone-event packets instead of audio, in the
// same stream, so the phone still gets exactly one packet every 20 ms.
func (s *Session) pace(start time.Time) {
	defer s.loops.Done()
	ssrc, seq, ts := newSSRC()
	pkt := rtp.Packet{
		Header:  rtp.Header{Version: 2, Marker: true, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc},
		Payload: make([]byte, frameSamples),
	}
	s.mu.Lock()
	dtmfPT := s.dtmfPT // set by Answered, before pace starts
	s.mu.Unlock()
	var (
		buf    = make([]byte, 12+frameSamples)
		frame  = make([]int16, frameSamples)
		next   = start
		timer  = time.NewTimer(0)
		failed bool
		skips  skipLog
		event  rtp.Packet // the telephone-event packet under way
	)
	defer timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
		if now := time.Now(); now.Sub(next) > maxBehind {
			behind := now.Sub(next)
			skip := behind / frameDur
			s.stats.skipped.Add(uint64(skip))
			if frames, warn := skips.note(now, int64(skip)); warn {
				s.log.Warn("RTP pacer fell behind; skipping frames", "behind", behind.Round(time.Millisecond),
					"frames", frames, "call_frames_skipped", s.stats.skipped.Load())
			}
			next = next.Add(skip * frameDur)
			pkt.Timestamp += uint32(skip) * frameSamples
			s.keysOut.skipped(int(skip))
			pkt.Marker = true
		}

		s.mix.read(frame)
		dst, pt, ok := s.target()
		var out *rtp.Packet
		if !ok {
			s.keysOut.held()
			pkt.Marker = true
		} else if key, isKey := s.keysOut.next(); isKey && dtmfPT >= 0 {
			if key.start {
				event.Header = rtp.Header{Version: 2, Marker: true, PayloadType: uint8(dtmfPT), SSRC: ssrc,
					Timestamp: pkt.Timestamp}
			}
			event.SequenceNumber, event.Payload = pkt.SequenceNumber, key.payload[:]
			out = &event
		} else {
			pkt.PayloadType = pt
			if pt == PayloadTypePCMA {
				g711.EncodeALawTo(pkt.Payload, frame)
			} else {
				g711.EncodeULawTo(pkt.Payload, frame)
			}
			out = &pkt
		}
		if out != nil {
			n, err := out.MarshalTo(buf)
			if err == nil {
				_, err = s.conn.WriteToUDPAddrPort(buf[:n], dst)
			}
			switch {
			case errors.Is(err, net.ErrClosed):
				return
			case err != nil:
				if !failed {
					s.log.Warn("cannot send RTP to the phone", "remote_rtp", dst.String(), "error", err)
				}
				failed = true
			default:
				failed = false
				s.stats.sent(time.Since(next))
			}
			pkt.SequenceNumber++
			pkt.Marker = false
			event.Marker = false
		}
		pkt.Timestamp += frameSamples
		next = next.Add(frameDur)
		timer.Reset(time.Until(next))
	}
}
