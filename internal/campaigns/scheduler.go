package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/background"
	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/dialq"
)

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Interval is how often it passes over the campaigns
	// (DIALQ_CAMPAIGN_TICK). Default 250 ms: a pause, a contact's window
	// or a retry waits at most this long to be seen.
	Interval time.Duration
	// ReportGrace is how long after a call ends its contact waits for the
	// agent's report when the campaign retries machine answers: the report
	// says answered_by machine only after the hang-up. Default 15 s.
	ReportGrace time.Duration
	// Now is the clock. Default the service's.
	Now func() time.Time
	Log *slog.Logger
	// StopGrace is how long Shutdown lets the pass under way finish the
	// campaign it holds (and commit) before it cancels the pass, which then
	// rolls back. Default 10 s.
	StopGrace time.Duration
}

// Scheduler is the campaign scheduler, a background service of every
// worker: each pass (Pass) claims the campaigns with work to do one at a
// time (FOR UPDATE SKIP LOCKED, so any number of workers share them and
// none places a contact twice) and, per campaign, applies the outcomes of
// the calls that ended (retries by outcome), pauses it when too many
// failed, then places its due contacts' calls through the calls service at
// its pace, within its concurrency cap and each contact's calling window.
type Scheduler struct {
	svc  *Service
	cfg  SchedulerConfig
	loop *background.Loop
	// stopping is closed by Shutdown: a pass places no more calls and
	// claims no more campaigns, and commits what it did.
	stopping   chan struct{}
	stopOnce   sync.Once
	cancelPass context.CancelFunc
}

// NewScheduler returns the scheduler of svc's campaigns; Start starts it.
func NewScheduler(svc *Service, cfg SchedulerConfig) *Scheduler {
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.ReportGrace <= 0 {
		cfg.ReportGrace = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return svc.Now() }
	}
	if cfg.Log == nil {
		cfg.Log = svc.log
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 10 * time.Second
	}
	return &Scheduler{svc: svc, cfg: cfg, stopping: make(chan struct{})}
}

// Start passes over the campaigns every Interval until Shutdown.
func (s *Scheduler) Start() {
	// A pass runs on a context of its own, not the loop's: Shutdown lets
	// the pass under way finish its campaign instead of cutting it.
	pass, cancel := context.WithCancel(context.Background())
	s.cancelPass = cancel
	s.loop = background.Start(s.cfg.Interval, func(context.Context) {
		if _, err := s.Pass(pass); err != nil && pass.Err() == nil {
			s.cfg.Log.Warn("campaign scheduler pass", "err", err)
		}
	})
}

// Shutdown stops the scheduler cleanly: the pass under way places no more
// calls, commits what it did to the campaign it holds (every contact it
// marked calling has its call stored and enqueued) and claims no other;
// only if that takes longer than StopGrace is the pass cancelled, which
// rolls its campaign back (a call it placed is found again by its
// attempt's idempotency key). It returns once no pass runs.
func (s *Scheduler) Shutdown() {
	s.stopOnce.Do(func() { close(s.stopping) })
	if s.loop == nil {
		return
	}
	t := time.AfterFunc(s.cfg.StopGrace, s.cancelPass)
	defer t.Stop()
	s.loop.Shutdown()
	s.cancelPass()
}

// stopped reports whether Shutdown was called.
func (s *Scheduler) stopped() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// PassResult is what one pass did.
type PassResult struct {
	// Campaigns it passed over, calls it placed, outcomes it applied.
	Campaigns, Placed, Outcomes int
}

// Pass makes one pass over every campaign with work to do that no other
// worker's pass holds. A campaign whose pass fails is rolled back (no
// change of it is kept; a call it placed is found again by its attempt's
// idempotency key) and the others go on; the first error is returned.
func (s *Scheduler) Pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	var done []uuid.UUID
	var first error
	for ctx.Err() == nil && !s.stopped() {
		now := s.cfg.Now()
		p, err := s.svc.store.ClaimCampaign(ctx, now, done)
		if err != nil {
			return res, errors.Join(first, err)
		}
		if p == nil {
			break
		}
		c := p.Campaign()
		done = append(done, c.ID)
		res.Campaigns++
		// The pace counts from the moment the campaign is ours: the pass
		// before it (another worker's) committed by then, so the time
		// since its paced_at was counted by nobody else.
		placed, outcomes, err := s.campaign(ctx, p, s.cfg.Now())
		if err == nil {
			err = p.Commit()
		}
		if err != nil {
			p.Rollback()
			s.cfg.Log.Warn("campaign pass failed; rolled back", "campaign_id", c.ID, "err", err)
			if first == nil {
				first = fmt.Errorf("campaign %s: %w", c.ID, err)
			}
			continue
		}
		res.Placed += placed
		res.Outcomes += outcomes
	}
	return res, first
}

// campaign is the pass over one claimed campaign.
func (s *Scheduler) campaign(ctx context.Context, p dialq.CampaignPass, now time.Time) (placed, outcomes int, err error) {
	c := p.Campaign()
	st := c.Settings.WithDefaults()
	log := s.cfg.Log.With("campaign_id", c.ID)

	if outcomes, err = s.applyOutcomes(ctx, p, st, now, log); err != nil {
		return 0, outcomes, err
	}
	switch c.Status {
	case dialq.CampaignScheduled:
		if err := p.SetStatus(ctx, dialq.CampaignRunning, "", now); err != nil {
			return 0, outcomes, err
		}
		log.Info("campaign started")
	case dialq.CampaignRunning:
	default:
		return 0, outcomes, nil // paused or canceled: only its live calls' outcomes
	}

	if paused, err := s.autoPause(ctx, p, st, now, log); err != nil || paused {
		return 0, outcomes, err
	}

	calling, err := p.Calling(ctx)
	if err != nil {
		return 0, outcomes, err
	}
	budget, credit := st.Pace(c.PacedAt, c.PaceCredit, now, st.MaxConcurrency-calling)
	turn := c.CallerIDNext
	placed, turn, err = s.placeDue(ctx, p, st, now, budget, turn, log)
	if err != nil {
		return placed, outcomes, err
	}
	// What the pace owed and no due contact took is carried, within the
	// one second's burst Pace caps it at.
	credit += float64(budget - placed)
	// paced_at never goes back (a worker whose clock is behind), or the
	// time between would be paced twice.
	pacedAt := now
	if c.PacedAt != nil && c.PacedAt.After(now) {
		pacedAt = *c.PacedAt
	}
	if err := p.SavePace(ctx, pacedAt, credit, turn); err != nil {
		return placed, outcomes, err
	}

	pending, live, err := p.Left(ctx)
	if err != nil {
		return placed, outcomes, err
	}
	if !pending && !live {
		if err := p.SetStatus(ctx, dialq.CampaignCompleted, "", now); err != nil {
			return placed, outcomes, err
		}
		log.Info("campaign completed")
	}
	return placed, outcomes, nil
}

// autoPause pauses a running campaign whose calls failed too often lately
// (dialq.AutoPause), counting only the calls that ended since its last
// resume.
func (s *Scheduler) autoPause(ctx context.Context, p dialq.CampaignPass, st dialq.CampaignSettings, now time.Time, log *slog.Logger) (bool, error) {
	a := st.AutoPause
	if a.Disabled {
		return false, nil
	}
	since := now.Add(-time.Duration(a.WindowSeconds * float64(time.Second)))
	if from := p.Campaign().FailuresFrom; from != nil && from.After(since) {
		since = *from
	}
	f, err := p.Failures(ctx, since)
	if err != nil {
		return false, err
	}
	pause, why := a.AutoPauses(f)
	if !pause {
		return false, nil
	}
	if err := p.SetStatus(ctx, dialq.CampaignPaused, why, now); err != nil {
		return false, err
	}
	log.Warn("campaign auto-paused", "reason", why)
	return true, nil
}

// placeDue places up to budget calls of the campaign's due contacts. A
// contact on the do-not-call list is suppressed; one outside its calling
// window waits for the next opening. It returns the calls placed and the
// caller ID pool's next turn.
func (s *Scheduler) placeDue(ctx context.Context, p dialq.CampaignPass, st dialq.CampaignSettings, now time.Time,
	budget int, turn int64, log *slog.Logger) (int, int64, error) {
	c := p.Campaign()
	placed, examined := 0, 0
	// A campaign whose due contacts are all outside their windows (its
	// first night) moves each to its next opening: a pass moves at most
	// this many, and the next pass goes on, so that no pass holds the
	// campaign for long.
	maxExamined := max(4*budget, 500)
	for placed < budget && examined < maxExamined && !s.stopped() {
		// Contacts not dialed now leave the due ones (their status or
		// not_before moves), so every round takes new ones.
		due, err := p.Due(ctx, now, min(max(budget-placed, 50), maxExamined-examined))
		if err != nil || len(due) == 0 {
			return placed, turn, err
		}
		examined += len(due)
		numbers := make([]string, len(due))
		for i, ct := range due {
			numbers[i] = ct.ToNumber
		}
		suppressed, err := p.Suppressed(ctx, numbers)
		if err != nil {
			return placed, turn, err
		}
		for _, ct := range due {
			if s.stopped() {
				// Shutting down: the rest stays due for the next worker.
				return placed, turn, nil
			}
			if suppressed[ct.ToNumber] {
				if err := p.Move(ctx, ct.Line, dialq.ContactSuppressed, ct.Outcome, "the number is on the do-not-call list", now); err != nil {
					return placed, turn, err
				}
				continue
			}
			open, closes, ok := st.NextOpen(contactZone(ct, st), now)
			switch {
			case !ok:
				if err := p.Move(ctx, ct.Line, dialq.ContactCanceled, ct.Outcome,
					"no calling window opens within eight days in "+ct.Timezone, now); err != nil {
					return placed, turn, err
				}
				continue
			case open.After(now):
				if err := p.Move(ctx, ct.Line, dialq.ContactPending, ct.Outcome,
					"waiting for its calling window, which opens at "+open.In(contactZone(ct, st)).Format(time.RFC3339), open); err != nil {
					return placed, turn, err
				}
				continue
			}
			callerID, next := st.CallerIDFor(ct.ToNumber, turn)
			call, err := s.place(ctx, c, st, ct, callerID, closes)
			switch code := dialq.ErrorCode(err); {
			case err == nil:
			case code == dialq.EINVALID || code == dialq.ECONFLICT:
				// This contact's call can never be placed as it is.
				log.Warn("campaign contact cannot be called", "line", ct.Line, "err", err)
				if err := p.Move(ctx, ct.Line, dialq.ContactDone, dialq.StatusFailed, "not placed: "+dialq.ErrorMessage(err), now); err != nil {
					return placed, turn, err
				}
				continue
			case code == dialq.ENOTFOUND:
				// The assistant or trunk is gone: no contact can be called.
				why := "paused: " + dialq.ErrorMessage(err)
				log.Warn("campaign paused: its calls cannot be placed", "err", err)
				return placed, turn, p.SetStatus(ctx, dialq.CampaignPaused, why, now)
			default:
				// Redis or Postgres failing: keep what this pass did, and try
				// the contact on the next one.
				log.Warn("place campaign call; trying again on the next pass", "line", ct.Line, "err", err)
				return placed, turn, nil
			}
			turn = next
			if err := p.MarkCalling(ctx, ct.Line, call.ID, ct.Attempts+1); err != nil {
				return placed, turn, err
			}
			if placed++; placed == budget {
				break // the rest of this round stays due, untouched
			}
		}
	}
	return placed, turn, nil
}

// contactZone is the zone of ct's calling windows: its own, or the
// campaign's default if its own does not load.
func contactZone(ct dialq.Contact, st dialq.CampaignSettings) *time.Location {
	if loc, err := dialq.LoadZone(ct.Timezone); err == nil {
		return loc
	}
	if loc, err := dialq.LoadZone(st.DefaultTimezone); err == nil {
		return loc
	}
	return time.UTC
}

// place places the call of ct's next attempt through the calls service.
func (s *Scheduler) place(ctx context.Context, c *dialq.Campaign, st dialq.CampaignSettings, ct dialq.Contact,
	callerID string, dialBy time.Time) (*dialq.Call, error) {
	md := ct.Metadata
	if md == nil {
		md = map[string]any{}
	}
	b, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("encode metadata of contact %d: %w", ct.Line, err)
	}
	var opts dialq.DialOptions
	if st.DialOptions != nil {
		opts = *st.DialOptions
	}
	opts.CallerID = callerID
	req := &dialq.OutboundRequest{AssistantID: c.AssistantID.String(), TrunkID: c.TrunkID, ToNumber: ct.ToNumber,
		CallService: string(c.Service), Metadata: md, DialOptions: opts}
	res, err := s.svc.calls.Place(ctx, calls.PlaceRequest{TenantID: c.TenantID, Request: req, MetadataBytes: len(b),
		Campaign: &calls.CampaignAttempt{CampaignID: c.ID, Line: ct.Line, Attempt: ct.Attempts + 1, DialBy: dialBy}})
	if err != nil {
		return nil, err
	}
	return res.Call, nil
}
