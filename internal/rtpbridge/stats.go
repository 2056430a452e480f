package rtpbridge

import (
	"sync"
	"sync/atomic"
	"time"
)

// lateAfter is how far behind its schedule a frame to the phone may go out
// before it counts as late. The phone's jitter buffer absorbs a few
// milliseconds; more than that, repeated, is audible.
const lateAfter = 5 * time.Millisecond

// Stats counts what a Session relayed, for logs and load tests.
type Stats struct {
	// PacketsIn is the RTP packets from the phone that were forwarded:
	// audio to the room's track, telephone-events to the DTMF detector.
	PacketsIn uint64
	// PacketsDropped is the packets from the phone that were not: malformed
	// ones, those that came before the answer or from another address, with
	// a payload type not negotiated, or with a sequence number already seen
	// or passed.
	PacketsDropped uint64
	// PacketsOut is the RTP packets sent to the phone.
	PacketsOut uint64
	// LateFrames is the frames to the phone sent more than 5 ms after their
	// place in the 20 ms schedule.
	LateFrames uint64
	// MaxSendJitter is the furthest behind its schedule any frame was sent.
	MaxSendJitter time.Duration
	// DTMF is the digits the phone sent, in order.
	DTMF string
}

// counters is the live form of Stats, updated by the media loops.
type counters struct {
	in, dropped, out, late atomic.Uint64
	maxJitter              atomic.Int64 // nanoseconds

	mu   sync.Mutex
	dtmf []byte
}

// sent records a frame that went out lateness after its schedule.
func (c *counters) sent(lateness time.Duration) {
	c.out.Add(1)
	if lateness > lateAfter {
		c.late.Add(1)
	}
	for {
		prev := c.maxJitter.Load()
		if int64(lateness) <= prev || c.maxJitter.CompareAndSwap(prev, int64(lateness)) {
			return
		}
	}
}

func (c *counters) digit(d byte) {
	c.mu.Lock()
	c.dtmf = append(c.dtmf, d)
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	dtmf := string(c.dtmf)
	c.mu.Unlock()
	return Stats{
		PacketsIn:      c.in.Load(),
		PacketsDropped: c.dropped.Load(),
		PacketsOut:     c.out.Load(),
		LateFrames:     c.late.Load(),
		MaxSendJitter:  time.Duration(c.maxJitter.Load()),
		DTMF:           dtmf,
	}
}
