package relay

import (
	"github.com/livekit/media-sdk/dtmf"
)

// keyPress is one DTMF digit the phone sent.
type keyPress struct {
	code  byte // RFC 4733 event code
	digit byte // '0'-'9', '*', '#', 'a'-'d'
}

// dtmfDetector turns the phone's RFC 4733 telephone-event packets into key
// presses, one per event. A sender repeats an event's packets while the key
// is held and sends its end packet three times, all with the event's RTP
// timestamp: the detector reports the event at its first end packet and
// ignores the rest of that timestamp. An event whose end packets were all
// lost is reported when the next one starts.
type dtmfDetector struct {
	started  bool   // an event has been seen
	ts       uint32 // RTP timestamp of the current event
	current  keyPress
	reported bool // the current event has been reported
}

// packet takes one telephone-event packet and returns the key presses it
// completes, oldest first (none for most packets).
func (d *dtmfDetector) packet(ts uint32, payload []byte) []keyPress {
	ev, err := dtmf.Decode(payload)
	if err != nil {
		return nil
	}
	var out []keyPress
	if !d.started || ts != d.ts {
		if d.started && int32(ts-d.ts) < 0 {
			return nil // a straggler of an earlier event
		}
		if d.started && !d.reported {
			out = appendKey(out, d.current)
		}
		d.started, d.ts, d.reported = true, ts, false
		d.current = keyPress{code: ev.Code, digit: ev.Digit}
	}
	if ev.End && !d.reported {
		d.reported = true
		out = appendKey(out, d.current)
	}
	return out
}

// appendKey appends k unless it is not a key (flash and other events have
// no digit).
func appendKey(out []keyPress, k keyPress) []keyPress {
	if k.digit == 0 {
		return out
	}
	return append(out, k)
}
