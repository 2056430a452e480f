package sipbridge

import (
	"context"
	"sync"
	"time"

	"github.com/dialq/dialq/internal/background"
)

// StatsLogConfig configures a StatsLog.
type StatsLogConfig struct {
	// Interval is how often it logs. Default a minute.
	Interval time.Duration
	// Now is the clock the window of each line is measured on. Default
	// time.Now.
	Now func() time.Time
}

// StatsLog logs, every Interval in which a Manager held or ended calls,
// what they relayed in it ("bridged calls relayed"): late frames to the
// phones are the first sign of a worker short of CPU.
type StatsLog struct {
	m    *Manager
	cfg  StatsLogConfig
	loop *background.Loop

	mu     sync.Mutex
	last   Stats     // the reading the next line counts from
	lastAt time.Time // and when it was taken
}

// NewStatsLog returns the relay log of m, counting from now; Start starts
// it.
func NewStatsLog(m *Manager, cfg StatsLogConfig) *StatsLog {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &StatsLog{m: m, cfg: cfg, last: m.Stats(), lastAt: cfg.Now()}
}

// Start logs every Interval until Shutdown.
func (s *StatsLog) Start() { s.loop = background.Start(s.cfg.Interval, s.Log) }

// Shutdown stops the log and returns once its goroutine has ended.
func (s *StatsLog) Shutdown() { s.loop.Shutdown() }

// Log logs what was relayed since the last reading, if anything was (a
// call held or ended), over the window since then.
func (s *StatsLog) Log(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, at := s.m.Stats(), s.cfg.Now()
	d, window := now.Since(s.last), at.Sub(s.lastAt)
	s.last, s.lastAt = now, at
	if d.Live == 0 && d.Ended == 0 && d.PacketsIn == 0 && d.PacketsOut == 0 {
		return
	}
	s.m.log.InfoContext(ctx, "bridged calls relayed", "live", d.Live, "ended", d.Ended, "rtp_in", d.PacketsIn,
		"rtp_dropped", d.PacketsDropped, "rtp_out", d.PacketsOut, "late_frames", d.LateFrames,
		"late_pct", d.LatePct(), "frames_skipped", d.FramesSkipped, "window", window)
}
