package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dialq/dialq/internal/dialq"
)

// CampaignCheck is the check right before a campaign's call is dialed
// (campaigns.Service): its campaign paused or canceled, its number on the
// do-not-call list, its calling window closed.
type CampaignCheck interface {
	// HoldCampaignCall reports true when c is not to be dialed; it has then
	// ended the call (canceled, with why) and moved its contact. A call
	// that is not a campaign's is never held.
	HoldCampaignCall(ctx context.Context, c *dialq.Call) (bool, error)
}

// roomDeleter closes a room (livekit.Client): a call held after its room
// and dispatch were made takes its agent out with it.
type roomDeleter interface {
	DeleteRoom(ctx context.Context, room string) error
}

// errHeld ends a dial task whose campaign call was held: the call is over,
// recorded, and the task's job is done.
var errHeld = fmt.Errorf("campaign call held before its dial")

// holdCampaignCall asks the campaign check about c, a call about to be
// dialed for the first time. It returns errHeld when the call is not to
// be dialed, nil when it is (or is no campaign's, or there is no check).
func (d *Dialer) holdCampaignCall(ctx context.Context, log *slog.Logger, c *dialq.Call) error {
	if d.Campaigns == nil || c.CampaignID == nil {
		return nil
	}
	held, err := d.Campaigns.HoldCampaignCall(ctx, c)
	if err != nil {
		// Postgres failing: the attempt is retried, never dialed unchecked.
		return &dialq.StepError{Retry: true, Err: fmt.Errorf("check the campaign before the dial: %w", err),
			Failure: dialq.Failure{Reason: dialq.ReasonInternal, Message: "the campaign could not be checked before the dial"}}
	}
	if !held {
		return nil
	}
	c.Status = dialq.StatusCanceled
	d.changed(ctx, log, c.ID, dialq.StatusCanceled)
	return errHeld
}

// holdBeforeRing is the same check right before the dial itself, after
// the room, the dispatch and the wait for the agent to join (seconds, at
// times): a campaign paused (or a number suppressed) meanwhile is not
// dialed either. The room and agent dispatch made for the call are closed
// with it.
func (d *Dialer) holdBeforeRing(ctx context.Context, log *slog.Logger, c *dialq.Call) error {
	if c.CampaignID == nil {
		return nil
	}
	// The wait is over: the window need only be open now.
	probe := *c
	probe.AgentJoinTimeout = 0
	err := d.holdCampaignCall(ctx, log, &probe)
	if !errors.Is(err, errHeld) {
		return err
	}
	c.Status = probe.Status
	if c.RoomName == "" {
		return err
	}
	if rd, ok := d.Rooms.(roomDeleter); ok {
		if derr := rd.DeleteRoom(context.WithoutCancel(ctx), c.RoomName); derr != nil {
			log.Warn("close the room of a held campaign call", "room", c.RoomName, "err", derr)
		}
	}
	return err
}
