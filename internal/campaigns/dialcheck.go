package campaigns

import (
	"context"
	"time"

	"github.com/dialq/dialq/internal/dialq"
)

// HoldCampaignCall is the check right before a campaign call is dialed
// (the dialer asks it; package dialer's CampaignCheck): a call whose
// campaign is paused or canceled, whose number is now on the do-not-call
// list, or whose contact's calling window has closed (or would close
// before the agent's join wait is over) is not dialed. It ends the call
// canceled with the reason and moves the contact: back to pending without
// counting the attempt (paused: due at once on resume; window closed: due
// at the next opening), or to canceled or suppressed. It reports whether it
// held the call; a call that is not a campaign's is never held.
func (s *Service) HoldCampaignCall(ctx context.Context, c *dialq.Call) (bool, error) {
	if c.CampaignID == nil || c.ContactLine == nil {
		return false, nil
	}
	now := s.Now()
	h, hold, err := s.holdFor(ctx, c, now)
	if err != nil || !hold {
		return false, err
	}
	held, err := s.store.HoldCampaignCall(ctx, c, h)
	if err == nil && held {
		s.log.Info("campaign call not dialed", "call_id", c.ID, "campaign_id", *c.CampaignID, "line", *c.ContactLine, "reason", h.Reason)
	}
	return held, err
}

func (s *Service) holdFor(ctx context.Context, c *dialq.Call, now time.Time) (dialq.CampaignHold, bool, error) {
	chk, err := s.store.CampaignDialCheck(ctx, c)
	if dialq.ErrorCode(err) == dialq.ENOTFOUND {
		return dialq.CampaignHold{Reason: "its campaign no longer exists", Contact: dialq.ContactCanceled}, true, nil
	}
	if err != nil {
		return dialq.CampaignHold{}, false, err
	}
	cp := chk.Campaign
	switch {
	case cp.Status == dialq.CampaignCanceled || cp.Status == dialq.CampaignCompleted:
		return dialq.CampaignHold{Reason: "the campaign is canceled", Contact: dialq.ContactCanceled}, true, nil
	case cp.Status == dialq.CampaignPaused:
		return dialq.CampaignHold{Reason: "the campaign is paused", Contact: dialq.ContactPending, NotBefore: now}, true, nil
	case chk.Suppressed:
		return dialq.CampaignHold{Reason: "the number is on the do-not-call list", Contact: dialq.ContactSuppressed}, true, nil
	}
	// The dial follows the wait for the agent to join: it must still fall
	// within the window after the longest such wait.
	if c.DialBy != nil && !now.Add(c.AgentJoinTimeout).Before(*c.DialBy) {
		st := cp.Settings.WithDefaults()
		loc, err := dialq.LoadZone(chk.Timezone)
		if err != nil {
			loc = time.UTC
		}
		open, _, ok := st.NextOpen(loc, c.DialBy.Add(time.Nanosecond))
		if !ok {
			return dialq.CampaignHold{Reason: "its calling window closed, and no other opens within eight days", Contact: dialq.ContactCanceled}, true, nil
		}
		return dialq.CampaignHold{Reason: "its calling window closed", Contact: dialq.ContactPending, NotBefore: open}, true, nil
	}
	return dialq.CampaignHold{}, false, nil
}
