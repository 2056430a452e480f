package sipbridge

import (
	"context"
	"fmt"
	"time"

	"github.com/dialq/dialq/internal/background"
)

// HeartbeatConfig configures a Heartbeat.
type HeartbeatConfig struct {
	// Interval is how often the Manager's calls are vouched for. Default
	// 10 s. The orphan closers of every worker give a call several of
	// these before they close it as lost (OrphansConfig.After).
	Interval time.Duration
}

// Heartbeat vouches, every Interval, for the bridged calls a Manager holds:
// it renews each call's claim on its row (the worker's name and the time
// it last vouched for it), which keeps the orphan closers of the other
// workers off it. In the same pass it hangs up the calls with a hang-up
// request stored on their row, whose message this worker missed.
//
// Its times are the store's: the clock the store was opened with.
type Heartbeat struct {
	m    *Manager
	cfg  HeartbeatConfig
	loop *background.Loop
}

// NewHeartbeat returns the heartbeat of the calls of m; Start starts it.
func NewHeartbeat(m *Manager, cfg HeartbeatConfig) *Heartbeat {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	return &Heartbeat{m: m, cfg: cfg}
}

// Start beats every Interval until Shutdown. It is to run for as long as
// the Manager holds calls: through the drain after SIGTERM as well.
func (h *Heartbeat) Start() {
	h.loop = background.Start(h.cfg.Interval, func(ctx context.Context) {
		if err := h.Beat(ctx); err != nil && ctx.Err() == nil {
			h.m.log.Warn("vouch for bridged calls", "err", err)
		}
	})
}

// Shutdown stops the heartbeat and returns once its goroutine has ended.
func (h *Heartbeat) Shutdown() { h.loop.Shutdown() }

// Beat vouches once for the calls the Manager holds, and hangs up those
// with a hang-up request stored. It returns the store's error.
func (h *Heartbeat) Beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	_, hangups, err := h.m.store.TouchBridged(ctx, h.m.cfg.Worker, h.m.held())
	if err != nil {
		return fmt.Errorf("vouch for the calls of %s: %w", h.m.cfg.Worker, err)
	}
	// Requests published while this worker was not listening; those it
	// heard are ending already, and asking again changes nothing.
	for id, reason := range hangups {
		if h.m.Hangup(id, reason) {
			h.m.log.Info("hanging up on a stored request", "call_id", id, "reason", reason)
		}
	}
	return nil
}
