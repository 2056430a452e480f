package calls

import (
	"context"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// HangupReason is what a hang-up through the API records as the call's end.
const HangupReason = dialq.APIHangupReason

// Hangup ends a live call placed through dialq's SIP bridge and waits up to
// Config.HangupWait to see it end. The request is stored on the call, then
// published to the workers; the one holding the call sends BYE (CANCEL
// while it rings), on the message or, had it missed it, on its next
// heartbeat. ended is false when the call had not ended by then.
// Returns ENOTFOUND if the call is not the tenant's, and ECONFLICT if it is
// not a live bridged call.
func (s *Service) Hangup(ctx context.Context, tenantID, id uuid.UUID) (c *dialq.Call, ended bool, err error) {
	call, err := s.store.FindCall(ctx, tenantID, id)
	if err != nil {
		return nil, false, err
	}
	switch {
	case call.Service != dialq.ServiceExotel:
		return nil, false, dialq.Errorf(dialq.ECONFLICT,
			"Call %s goes through a LiveKit SIP trunk: it ends when its phone participant leaves the room (LiveKit RemoveParticipant); dialq hangs up only Exotel bridge calls.", id)
	case !call.Status.Live():
		return nil, false, notLive(call)
	case call.SIPCallID == "":
		return nil, false, dialq.Errorf(dialq.ECONFLICT, "Call %s is not dialed yet; try again in a moment.", id)
	}
	w := s.watchFor(id, s.cfg.HangupWait)
	defer w.close()
	live, err := s.store.RequestHangup(ctx, id, HangupReason)
	if err != nil {
		return nil, false, err
	}
	if !live { // it ended meanwhile
		if call, err = s.store.FindCall(ctx, tenantID, id); err != nil {
			return nil, false, err
		}
		return nil, false, notLive(call)
	}
	if s.hangups != nil {
		if err := s.hangups.Request(ctx, id, HangupReason); err != nil {
			// Stored: the worker holding the call finds it on its next heartbeat.
			s.log.Warn("publish hang-up request; the worker will find it stored", "call_id", id, "err", err)
		}
	}
	call = s.await(ctx, w, call, s.cfg.HangupWait, func(c *dialq.Call) bool { return !c.Status.Live() })
	return call, !call.Status.Live(), nil
}

func notLive(c *dialq.Call) error {
	return dialq.Errorf(dialq.ECONFLICT, "Call %s is not live (status %s).", c.ID, c.Status)
}
