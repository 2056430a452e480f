package sipbridge

import (
	"time"

	"github.com/dialq/dialq/internal/sipbridge/relay"
)

// Stats is what a Manager's bridged calls relayed: the calls it holds so
// far, and those that ended, whole. The counters only grow: the difference
// between two readings is what was relayed in between.
type Stats struct {
	Live  int // calls held now
	Ended int // calls that ended since the Manager started

	// Summed over the calls; see relay.Stats for what each counts.
	PacketsIn      uint64
	PacketsDropped uint64
	PacketsOut     uint64
	LateFrames     uint64
	FramesSkipped  uint64
	// MaxSendJitter is the furthest behind its schedule any frame to a
	// phone went out, in any call.
	MaxSendJitter time.Duration
	// LiveSendJitter is the same over the calls held now only (0 with
	// none): what a gauge of the bridge's health shows.
	LiveSendJitter time.Duration
}

// LatePct is the share of the frames sent to the phones that went out more
// than 5 ms late, in percent.
func (s Stats) LatePct() float64 {
	if s.PacketsOut == 0 {
		return 0
	}
	return float64(s.LateFrames) / float64(s.PacketsOut) * 100
}

// Since is what was relayed between the reading prev and s; Live,
// MaxSendJitter and LiveSendJitter stay s's.
func (s Stats) Since(prev Stats) Stats {
	return Stats{
		Live:           s.Live,
		Ended:          s.Ended - prev.Ended,
		PacketsIn:      s.PacketsIn - prev.PacketsIn,
		PacketsDropped: s.PacketsDropped - prev.PacketsDropped,
		PacketsOut:     s.PacketsOut - prev.PacketsOut,
		LateFrames:     s.LateFrames - prev.LateFrames,
		FramesSkipped:  s.FramesSkipped - prev.FramesSkipped,
		MaxSendJitter:  s.MaxSendJitter,
		LiveSendJitter: s.LiveSendJitter,
	}
}

func (s *Stats) add(st relay.Stats) {
	s.PacketsIn += st.PacketsIn
	s.PacketsDropped += st.PacketsDropped
	s.PacketsOut += st.PacketsOut
	s.LateFrames += st.LateFrames
	s.FramesSkipped += st.FramesSkipped
	s.MaxSendJitter = max(s.MaxSendJitter, st.MaxSendJitter)
}

// Stats returns what the calls relayed so far.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.ended
	s.Live = len(m.calls)
	for _, b := range m.calls {
		st := b.sess.Stats()
		s.add(st)
		s.LiveSendJitter = max(s.LiveSendJitter, st.MaxSendJitter)
	}
	return s
}
