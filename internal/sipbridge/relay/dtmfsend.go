package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/livekit/media-sdk/dtmf"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// The timing of the digits sent to the phone, in 20 ms frames: that of
// media-sdk's dtmf.Write, which livekit-sip sends the digits of its calls
// with (a 250 ms tone, as long a gap, 500 ms for a 'w'), on the pacer's
// frames. dtmf.Write itself cannot be used: it runs a ticker of its own and
// writes to an rtp.Stream, while the pacer owns the stream to the phone
// (its SSRC, sequence numbers and clock) and sends one packet per frame.
const (
	// toneFrames is how long a digit's event lasts: 250 ms rounded up to
	// whole packets, 260 ms, as dtmf.Write reports it.
	toneFrames = 13
	// gapFrames is the silence after a digit. Its first frames carry the
	// event's end again (endRepeats).
	gapFrames = 13
	// pauseFrames is a 'w': half a second.
	pauseFrames = 25
	// endRepeats is how many times the end of an event is sent: three, one
	// frame apart (RFC 4733 §2.5.1.4), so that losing one loses nothing.
	endRepeats = 3
	// dtmfVolume is the events' power level, -10 dBm0, as dtmf.Write sends.
	dtmfVolume = 10
)

// ErrNoTelephoneEvent is returned by SendDTMF when the phone's answer
// offered no telephone-event payload type: it takes no digits as RTP events.
var ErrNoTelephoneEvent = errors.New("relay: the phone's answer has no telephone-event: it cannot be sent DTMF")

// errNotAnswered is returned by SendDTMF before the answer.
var errNotAnswered = errors.New("relay: the phone has not answered: no DTMF can be sent yet")

// SendDTMF sends digits to the phone as RFC 4733 telephone-events on the
// payload type of the phone's answer, and returns once the last one is
// out: the digits 0-9, *, #, A-D (a-d), and 'w' for a half-second pause.
// Each digit lasts 260 ms with a 260 ms gap after it. The events take the
// place of the audio frames they fall on, in the pacer's stream (its SSRC,
// sequence numbers and clock); the room's audio goes on around them.
// Digits asked for by several callers are sent one caller after the other,
// in the order they asked. While the call is on hold nothing is sent; a
// digit the hold cut short is sent again from its start.
//
// Returns an error naming a character that is not a digit,
// ErrNoTelephoneEvent if the answer has no telephone-event, an error
// before the answer, ErrClosed if the session ends first and ctx's error
// if ctx ends first (the digit under way is finished, the rest are not
// sent).
func (s *Session) SendDTMF(ctx context.Context, digits string) error {
	job, err := s.queueDTMF(digits)
	if err != nil || job == nil {
		return err
	}
	select {
	case <-job.done:
		s.log.Info("sent DTMF to the phone", "digits", digits)
		return nil
	case <-s.stop:
		return ErrClosed
	case <-ctx.Done():
		s.keysOut.cancel(job)
		return ctx.Err()
	}
}

// queueDTMF checks digits and queues them for the pacer; nil for none.
// Its errors are SendDTMF's.
func (s *Session) queueDTMF(digits string) (*dtmfJob, error) {
	if i := strings.IndexFunc(digits, func(r rune) bool { return !strings.ContainsRune("0123456789*#ABCDabcdw", r) }); i >= 0 {
		return nil, fmt.Errorf("relay: %q is not a DTMF digit (0-9 * # A-D, w to pause)", digits[i:i+1])
	}
	if digits == "" {
		return nil, nil
	}
	s.mu.Lock()
	answered, dtmfPT, reason := s.status == callStatusActive, s.dtmfPT, s.reason
	s.mu.Unlock()
	switch {
	case reason != "":
		return nil, ErrClosed
	case !answered:
		return nil, errNotAnswered
	case dtmfPT < 0:
		return nil, ErrNoTelephoneEvent
	}
	return s.keysOut.add(strings.ToLower(digits)), nil
}

// dataReceived sends the phone the DTMF a participant of the room (the
// agent, navigating an IVR) publishes as a SipDTMF packet, as livekit-sip
// does for the phones it bridges: its digit, or digits, else the digit of
// its code. A phone's own packets are left alone: the keys one phone
// pressed are for the agent, not for the other phones of the room. The
// digits are queued behind any still being sent.
func (s *Session) dataReceived(p lksdk.DataPacket, params lksdk.DataReceiveParams) {
	d, ok := p.(*livekit.SipDTMF)
	if !ok || (params.Sender != nil && params.Sender.Kind() == lksdk.ParticipantSIP) {
		return
	}
	digits := d.Digit
	if digits == "" && d.Code <= 0xff {
		if c := dtmf.CodeToChar(byte(d.Code)); c != 0 {
			digits = string(c)
		}
	}
	log := s.log.With("participant", params.SenderIdentity, "digits", digits, "code", d.Code)
	if digits == "" {
		log.Warn("cannot send the room's DTMF to the phone: no digit in it")
		return
	}
	if _, err := s.queueDTMF(digits); err != nil {
		log.Warn("cannot send the room's DTMF to the phone", "error", err)
		return
	}
	log.Info("sending the room's DTMF to the phone")
}

// dtmfSender holds the digits waiting to be sent and where the pacer is
// in them; the pacer asks it what each frame carries. Its zero value sends
// nothing.
type dtmfSender struct {
	mu   sync.Mutex
	jobs []*dtmfJob // jobs[0] is under way
	// frame counts the frames of the current digit or pause so far.
	frame int
}

// dtmfJob is one SendDTMF call's digits.
type dtmfJob struct {
	digits   string
	next     int           // index in digits of the digit or pause under way
	done     chan struct{} // closed once the last digit is out
	canceled bool
}

// dtmfFrame is what one of the pacer's frames carries instead of audio: a
// telephone-event packet.
type dtmfFrame struct {
	payload [4]byte
	// start marks the event's first packet: it takes this frame's
	// timestamp, which its later packets repeat, and the marker bit.
	start bool
}

func (d *dtmfSender) add(digits string) *dtmfJob {
	j := &dtmfJob{digits: digits, done: make(chan struct{})}
	d.mu.Lock()
	d.jobs = append(d.jobs, j)
	d.mu.Unlock()
	return j
}

// cancel drops j; a digit of it under way is finished first (next drops
// it once that digit is out).
func (d *dtmfSender) cancel(j *dtmfJob) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j.canceled = true
}

// held tells the sender a frame went by with nothing sent (the call is
// on hold): a digit cut short starts again when sending resumes.
func (d *dtmfSender) held() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.jobs) > 0 && d.frame > 0 && d.frame < toneFrames && d.jobs[0].digits[d.jobs[0].next] != 'w' {
		d.frame = 0
	}
}

// skipped tells the sender the pacer skipped n frames, having fallen
// behind: the digits keep to the clock, as the audio's timestamps do. A
// skip never passes over an event's first or end packet: a digit not yet
// begun starts with the next frame, one under way ends there if the skip
// reached its end.
func (d *dtmfSender) skipped(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for n > 0 && len(d.jobs) > 0 {
		j := d.jobs[0]
		last := toneFrames + gapFrames
		switch {
		case j.digits[j.next] == 'w':
			last = pauseFrames
		case d.frame == 0:
			return
		case d.frame < toneFrames:
			d.frame = min(d.frame+n, toneFrames-1)
			return
		}
		step := min(n, last-d.frame)
		n -= step
		if d.frame += step; d.frame == last {
			d.frame = 0
			if j.next++; j.next == len(j.digits) {
				d.jobs = d.jobs[1:]
				close(j.done)
			}
		}
	}
}

// next returns what the pacer's next frame carries: an event packet
// (ok true) or, in a gap, a pause or with nothing to send, the room's
// audio.
func (d *dtmfSender) next() (f dtmfFrame, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.jobs) > 0 {
		j := d.jobs[0]
		if j.canceled && d.frame == 0 {
			d.jobs = d.jobs[1:]
			continue
		}
		c := j.digits[j.next]
		n := d.frame
		last := toneFrames + gapFrames
		if c == 'w' {
			last = pauseFrames
		}
		if d.frame++; d.frame == last {
			d.frame = 0
			if j.next++; j.next == len(j.digits) {
				d.jobs = d.jobs[1:]
				close(j.done)
			}
		}
		if c == 'w' || n >= toneFrames+endRepeats-1 {
			return dtmfFrame{}, false
		}
		// Durations count from the event's start to the end of this
		// packet's frame; the end packets repeat the last.
		dur := min(n+1, toneFrames)
		ev := dtmf.Event{Digit: c, Volume: dtmfVolume, Dur: uint16(dur * frameSamples), End: n+1 >= toneFrames}
		if _, err := dtmf.Encode(f.payload[:], ev); err != nil {
			return dtmfFrame{}, false // 4 bytes always fit
		}
		f.start = n == 0
		return f, true
	}
	return dtmfFrame{}, false
}
