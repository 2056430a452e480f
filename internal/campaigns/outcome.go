package campaigns

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/dialq/dialq/internal/dialq"
)

// endedBatch is how many ended calls a pass applies per round.
const endedBatch = 500

// applyOutcomes applies the outcomes of the campaign's contacts whose call
// ended: dialed again (pending, due when the retry's delay is over), or
// done with the call's status as outcome. A do_not_call disposition puts
// the number on the tenant's do-not-call list and is never retried; a
// canceled campaign retries nobody.
func (s *Scheduler) applyOutcomes(ctx context.Context, p dialq.CampaignPass, st dialq.CampaignSettings, now time.Time, log *slog.Logger) (int, error) {
	applied := 0
	for {
		ended, err := p.Ended(ctx, endedBatch)
		if err != nil {
			return applied, err
		}
		waiting := 0
		for _, e := range ended {
			ok, err := s.applyOutcome(ctx, p, st, e, now)
			if err != nil {
				return applied, err
			}
			if ok {
				applied++
			} else {
				waiting++
			}
		}
		if len(ended) < endedBatch || waiting == len(ended) {
			if applied > 0 {
				log.Debug("campaign outcomes applied", "count", applied)
			}
			return applied, nil
		}
	}
}

// applyOutcome applies one ended call's outcome; false leaves it for a
// later pass (its agent's report is still awaited).
func (s *Scheduler) applyOutcome(ctx context.Context, p dialq.CampaignPass, st dialq.CampaignSettings, e dialq.ContactCall, now time.Time) (bool, error) {
	call, ct := e.Call, e.Contact
	if call.Report == nil && call.AnsweredAt != nil && st.Retry.Machine.MaxRetries > 0 &&
		call.EndedAt != nil && now.Sub(*call.EndedAt) < s.cfg.ReportGrace {
		return false, nil // its report may yet say a machine answered
	}
	if call.Report != nil && strings.EqualFold(call.Report.Disposition, dialq.DispositionDoNotCall) {
		if err := p.Suppress(ctx, ct.ToNumber, "the agent's disposition was do_not_call (call "+call.ID.String()+")"); err != nil {
			return false, err
		}
		return true, p.Move(ctx, ct.Line, dialq.ContactDone, call.Status,
			"the agent's disposition is do_not_call: the number is now on the do-not-call list", now)
	}
	r := st.Retry.NextAttempt(call, ct.Attempts)
	switch {
	case r.Again && p.Campaign().Status == dialq.CampaignCanceled:
		return true, p.Move(ctx, ct.Line, dialq.ContactCanceled, call.Status, r.Why+", but the campaign was canceled", now)
	case r.Again:
		return true, p.Move(ctx, ct.Line, dialq.ContactPending, call.Status, r.Why, r.After)
	default:
		return true, p.Move(ctx, ct.Line, dialq.ContactDone, call.Status, r.Why, now)
	}
}
