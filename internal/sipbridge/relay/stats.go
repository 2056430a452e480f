package relay

import (
	"sync"
	"sync/atomic"
	"time"
)

// lateAfter is how far behind its schedule a frame to the phone may go out
// before it counts as late. The phone's jitter buffer absorbs a few
// milliseconds; more than that, repeated, is audible.
const lateAfter = 5 * time.Millisecond

// latenessBuckets are the upper bounds of the histogram of how late the
// frames to the phone go out: fine where the pacer usually is, coarse where
// the phone hears it anyway. A last bucket holds the rest.
var latenessBuckets = [...]time.Duration{
	250 * time.Microsecond, 500 * time.Microsecond, 750 * time.Microsecond,
	1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond,
	5 * time.Millisecond, 6 * time.Millisecond, 8 * time.Millisecond, 10 * time.Millisecond,
	15 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond, 40 * time.Millisecond,
	60 * time.Millisecond,
}

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
	// FramesSkipped is the frames to the phone never sent because the pacer
	// had fallen more than 60 ms behind its schedule (the process stalled):
	// the phone hears a gap rather than a burst it would have to drop.
	FramesSkipped uint64
	// SendLatenessP99 is how late, at most, 99% of the frames to the phone
	// went out after their place in the schedule. It is read from a
	// histogram: the upper bound of a bucket, 250 µs wide up to 1 ms, 1 to
	// 2 ms wide up to 10 ms, wider up to 60 ms; MaxSendJitter if that is
	// lower or beyond.
	SendLatenessP99 time.Duration
	// MaxSendJitter is the furthest behind its schedule any frame was sent.
	MaxSendJitter time.Duration
	// DTMF is the digits the phone sent, in order.
	DTMF string
}

// counters is the live form of Stats, updated by the media loops.
type counters struct {
	in, dropped, out, late, skipped atomic.Uint64
	maxJitter                       atomic.Int64 // nanoseconds
	lateness                        [len(latenessBuckets) + 1]atomic.Uint64

	mu   sync.Mutex
	dtmf []byte
}

// sent records a frame that went out lateness after its schedule.
func (c *counters) sent(lateness time.Duration) {
	c.out.Add(1)
	if lateness > lateAfter {
		c.late.Add(1)
	}
	b := 0
	for b < len(latenessBuckets) && lateness > latenessBuckets[b] {
		b++
	}
	c.lateness[b].Add(1)
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

// latenessP99 returns the upper bound of the bucket that holds the 99th
// percentile of the frames' lateness, or the greatest lateness seen if that
// is lower; 0 before any frame.
func (c *counters) latenessP99(greatest time.Duration) time.Duration {
	var counts [len(latenessBuckets) + 1]uint64
	var total uint64
	for i := range counts {
		counts[i] = c.lateness[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := (total*99 + 99) / 100 // the ceiling of 99% of total
	var seen uint64
	for i, n := range counts[:len(latenessBuckets)] {
		if seen += n; seen >= rank {
			return min(latenessBuckets[i], greatest)
		}
	}
	return greatest
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	dtmf := string(c.dtmf)
	c.mu.Unlock()
	maxJitter := time.Duration(c.maxJitter.Load())
	return Stats{
		PacketsIn:       c.in.Load(),
		PacketsDropped:  c.dropped.Load(),
		PacketsOut:      c.out.Load(),
		LateFrames:      c.late.Load(),
		FramesSkipped:   c.skipped.Load(),
		SendLatenessP99: c.latenessP99(maxJitter),
		MaxSendJitter:   maxJitter,
		DTMF:            dtmf,
	}
}
