// Package reconcile closes LiveKit SIP calls whose end no webhook told
// dialq of, and runs the watchdogs of live calls: a call past its max
// duration, an answered call no agent joined, a call ringing past its ring
// budget. LiveKit's webhooks (POST /livekit/webhook) end calls within
// milliseconds; the reconciler is what makes a lost webhook, or an API that
// was down when it came, cost a bounded delay instead of a call open for
// ever. Calls through dialq's own SIP bridge are followed by the worker
// holding them and are not this package's.
package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/background"
	"github.com/dialq/dialq/internal/dialq"
)

// Store claims live LiveKit SIP calls to check and records their ends.
type Store interface {
	// ClaimLiveLiveKitCalls returns up to limit live LiveKit SIP calls not
	// checked since before, and marks them checked now, so that several
	// workers check different calls.
	ClaimLiveLiveKitCalls(ctx context.Context, before time.Time, limit int) ([]*dialq.Call, error)
	GetCall(ctx context.Context, id uuid.UUID) (*dialq.Call, error)
	RecordEnded(ctx context.Context, id uuid.UUID, e dialq.End, at time.Time) (bool, error)
	// RecordAgentLeft records that the agent left the call's room at at,
	// which its webhook had not yet.
	RecordAgentLeft(ctx context.Context, id uuid.UUID, detail string, at time.Time) error
}

// LiveKit is what the reconciler asks LiveKit.
type LiveKit interface {
	FindPhone(ctx context.Context, room, identity string) (dialq.PhoneState, bool, error)
	FindAgent(ctx context.Context, room, agentName string) (identity string, found bool, err error)
	RemovePhone(ctx context.Context, room, identity string) error
}

// Notifier announces a call's change to waiting requests.
type Notifier interface {
	CallChanged(ctx context.Context, id uuid.UUID, s dialq.CallStatus) error
}

// Config configures a Reconciler.
type Config struct {
	Store   Store
	LiveKit LiveKit
	Notify  Notifier
	Log     *slog.Logger
	// Interval is how often it checks (DIALQ_RECONCILE_INTERVAL); each call
	// is checked at most once an interval. Default 5 s: the longest a lost
	// webhook keeps a call open is about two intervals.
	Interval time.Duration
	// Batch caps the calls one pass checks. Default 200.
	Batch int
	// MaxDuration hangs up answered calls this long (DIALQ_MAX_CALL_DURATION;
	// 0: no limit), unless the call has its own max_duration.
	MaxDuration time.Duration
	// AgentGrace hangs up an answered call with no agent in its room this
	// long after the answer, or after an agent last left it if that is
	// later (DIALQ_AGENT_GRACE; 0: never): failed, agent_never_joined, or
	// agent_left when an agent had been there (a call whose assistant keeps
	// calls when the agent leaves).
	AgentGrace time.Duration
	// RingTimeout is the ring time of a call without its own ring_timeout
	// (DIALQ_RING_TIMEOUT), and RingMargin what the dial may take beyond
	// it: a call still not answered its ring time plus RingMargin after its
	// dial fails as no_answer.
	RingTimeout, RingMargin time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Counts are how many calls each check closed since the start.
type Counts struct {
	PhoneGone, MaxDuration, AgentNeverJoined, AgentLeft, RingExpired int64
}

// Reconciler is the background service: NewReconciler, Start, Shutdown.
type Reconciler struct {
	cfg  Config
	loop *background.Loop

	phoneGone, maxDuration, agentNeverJoined, agentLeft, ringExpired atomic.Int64
}

// NewReconciler returns a reconciler; Start starts it.
func NewReconciler(cfg Config) *Reconciler {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 200
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Reconciler{cfg: cfg}
}

// Start checks every Interval until Shutdown.
func (r *Reconciler) Start() {
	r.loop = background.Start(r.cfg.Interval, func(ctx context.Context) { r.Pass(ctx) })
}

// Shutdown stops it and waits for a pass under way.
func (r *Reconciler) Shutdown() { r.loop.Shutdown() }

// Counts returns what it closed so far, by check.
func (r *Reconciler) Counts() Counts {
	return Counts{PhoneGone: r.phoneGone.Load(), MaxDuration: r.maxDuration.Load(),
		AgentNeverJoined: r.agentNeverJoined.Load(), AgentLeft: r.agentLeft.Load(), RingExpired: r.ringExpired.Load()}
}

// Pass checks one batch of the live LiveKit SIP calls least recently
// checked and returns how many it closed.
func (r *Reconciler) Pass(ctx context.Context) int {
	now := r.cfg.Now()
	list, err := r.cfg.Store.ClaimLiveLiveKitCalls(ctx, now.Add(-r.cfg.Interval+time.Millisecond), r.cfg.Batch)
	if err != nil {
		r.cfg.Log.Warn("reconciler: list live calls", "err", err)
		return 0
	}
	closed := 0
	for _, c := range list {
		if ctx.Err() != nil {
			break
		}
		ok, err := r.check(ctx, c, now)
		if err != nil {
			r.cfg.Log.Warn("reconciler: check call", "call_id", c.ID, "err", err)
		}
		if ok {
			closed++
		}
	}
	return closed
}

// check closes c if one of the checks says it is over.
func (r *Reconciler) check(ctx context.Context, c *dialq.Call, now time.Time) (bool, error) {
	identity := c.PhoneIdentity()
	if c.Status != dialq.StatusAnswered {
		// The dial task waits for the answer and records the outcome; a
		// call past the ring budget had a task that ended without it.
		budget := c.Options.Ring(r.cfg.RingTimeout) + r.cfg.RingMargin
		if c.DialedAt == nil || now.Sub(*c.DialedAt) < budget {
			return false, nil
		}
		phone, found, err := r.cfg.LiveKit.FindPhone(ctx, c.RoomName, identity)
		if err != nil {
			return false, err
		}
		if found && phone.CallStatus == "active" {
			return false, nil // answered: the dial task (or its retry) records it
		}
		if found {
			if err := r.cfg.LiveKit.RemovePhone(ctx, c.RoomName, identity); err != nil {
				return false, err
			}
		}
		return r.end(ctx, c, &r.ringExpired, "ring budget", dialq.Failed(dialq.Failure{Reason: dialq.ReasonNoAnswer,
			Message: fmt.Sprintf("not answered %s after the dial; the reconciler closed it", budget)}))
	}

	_, found, err := r.cfg.LiveKit.FindPhone(ctx, c.RoomName, identity)
	if err != nil {
		return false, err
	}
	if !found {
		// The phone left (or the room is gone) and no webhook said so yet.
		// Re-read the call: whoever removed the phone (a hang-up through the
		// API, the agent leaving) stored in whose name before removing it,
		// perhaps after this pass listed c.
		fresh, err := r.cfg.Store.GetCall(ctx, c.ID)
		if err != nil || fresh.Status.Terminal() {
			return false, err
		}
		c = fresh
		e := dialq.Completed(dialq.EndedByPhone, "phone left the room (found by the reconciler)")
		switch {
		case c.HangupReason != "":
			e = dialq.Completed(c.HangupBy, c.HangupReason)
		case c.OutlastedMaxDuration(now):
			e = dialq.Completed(dialq.EndedByDialq, "max duration")
		}
		return r.end(ctx, c, &r.phoneGone, "phone gone", e)
	}
	if c.AnsweredAt == nil {
		return false, nil
	}
	if limit := c.Options.MaxCall(r.cfg.MaxDuration); limit > 0 && now.Sub(*c.AnsweredAt) >= limit {
		if err := r.cfg.LiveKit.RemovePhone(ctx, c.RoomName, identity); err != nil {
			return false, err
		}
		return r.end(ctx, c, &r.maxDuration, "max duration", dialq.Completed(dialq.EndedByDialq, "max duration"))
	}
	if r.cfg.AgentGrace > 0 && now.Sub(agentGraceFrom(c)) >= r.cfg.AgentGrace {
		_, agent, err := r.cfg.LiveKit.FindAgent(ctx, c.RoomName, c.AgentName)
		if err != nil || agent {
			return false, err
		}
		return r.noAgent(ctx, c, now)
	}
	return false, nil
}

// noAgent closes answered call c, which has had no agent in its room for
// its agent grace, or starts the grace of a call kept when its agent
// leaves whose leaving no webhook has told yet.
func (r *Reconciler) noAgent(ctx context.Context, c *dialq.Call, now time.Time) (bool, error) {
	// An agent that joined before the dial (dispatch running) and left
	// with no agent_left recorded left after the answer, and its webhook
	// is late or lost.
	unrecorded := c.DispatchState == dialq.DispatchRunning && c.AgentLeftAt == nil
	counter, check := &r.agentNeverJoined, "agent never joined"
	e := dialq.Failed(dialq.Failure{Reason: dialq.ReasonAgentNeverJoined,
		Message: fmt.Sprintf("no agent in the room %s after the answer; dialq hung up", r.cfg.AgentGrace)})
	switch {
	case unrecorded && c.KeepCallOnAgentLeave:
		// Kept: its grace starts now, as it would have from the webhook.
		if err := r.cfg.Store.RecordAgentLeft(ctx, c.ID, "no agent in the room (found by the reconciler); the call goes on", now); err != nil {
			return false, err
		}
		r.cfg.Log.Info("reconciler: the agent left a kept call; its grace starts", "call_id", c.ID, "agent_grace", r.cfg.AgentGrace)
		return false, nil
	case unrecorded:
		// An agent hangs up by leaving: the end its webhook would have made.
		counter, check, e = &r.agentLeft, "agent left", dialq.Completed(dialq.EndedByAgent, "agent left (found by the reconciler)")
	case c.AgentLeftAt != nil:
		counter, check = &r.agentLeft, "agent left"
		e = dialq.Failed(dialq.Failure{Reason: dialq.ReasonAgentLeft,
			Message: fmt.Sprintf("the agent left the room and no agent came back within %s; dialq hung up", r.cfg.AgentGrace)})
	}
	if err := r.cfg.LiveKit.RemovePhone(ctx, c.RoomName, c.PhoneIdentity()); err != nil {
		return false, err
	}
	return r.end(ctx, c, counter, check, e)
}

// agentGraceFrom is when the no-agent grace of answered call c started:
// its answer, or an agent's leaving after it. An agent that left and came
// back is found in the room when the grace is over, and the call goes on.
func agentGraceFrom(c *dialq.Call) time.Time {
	if c.AgentLeftAt != nil && c.AgentLeftAt.After(*c.AnsweredAt) {
		return *c.AgentLeftAt
	}
	return *c.AnsweredAt
}

func (r *Reconciler) end(ctx context.Context, c *dialq.Call, counter *atomic.Int64, check string, e dialq.End) (bool, error) {
	ok, err := r.cfg.Store.RecordEnded(ctx, c.ID, e, r.cfg.Now())
	if err != nil || !ok {
		return false, err
	}
	counter.Add(1)
	r.cfg.Log.Info("reconciler closed call", "call_id", c.ID, "check", check, "status", e.Status, "ended_by", e.By, "reason", e.Reason)
	if r.cfg.Notify != nil {
		if err := r.cfg.Notify.CallChanged(context.WithoutCancel(ctx), c.ID, e.Status); err != nil {
			r.cfg.Log.Warn("announce call change", "call_id", c.ID, "err", err)
		}
	}
	return true, nil
}
