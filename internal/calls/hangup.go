package calls

import (
	"context"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// HangupReason is what a hang-up through the API records as the call's end.
const HangupReason = dialq.APIHangupReason

// Hangup ends the tenant's call id, whichever way it went out, and waits up
// to Config.HangupWait to see it end:
//
//   - a call still queued is canceled at once, never dialed;
//   - a LiveKit SIP call's phone participant is removed from the room
//     (LiveKit's SIP service sends BYE, or CANCEL while it rings): an
//     answered call completes, one not yet answered is canceled, ended by
//     the API;
//   - a call through dialq's SIP bridge: the request is stored on the call,
//     then published to the workers; the one holding the call sends BYE
//     (CANCEL while it rings), on the message or, had it missed it, on its
//     next heartbeat.
//
// ended is false when the call had not ended by then. Returns ENOTFOUND if
// the call is not the tenant's, and ECONFLICT if it is over already (or a
// bridged call whose INVITE is not out yet).
func (s *Service) Hangup(ctx context.Context, tenantID, id uuid.UUID) (c *dialq.Call, ended bool, err error) {
	call, err := s.store.FindCall(ctx, tenantID, id)
	if err != nil {
		return nil, false, err
	}
	if call.Status == dialq.StatusQueued {
		ok, err := s.store.RecordEnded(ctx, id, dialq.Canceled(HangupReason+" before it was dialed"), s.Now())
		if err != nil {
			return nil, false, err
		}
		if call, err = s.store.FindCall(ctx, tenantID, id); err != nil {
			return nil, false, err
		}
		if ok {
			s.changed(ctx, call)
			return call, true, nil
		}
		// The dial task took it meanwhile: hang up what it dials.
	}
	switch {
	case call.Status.Terminal():
		return nil, false, notLive(call)
	case call.Service != dialq.ServiceExotel:
		return s.hangupLiveKit(ctx, tenantID, call)
	case call.SIPCallID == "":
		return nil, false, dialq.Errorf(dialq.ECONFLICT, "Call %s is not dialed yet; try again in a moment.", id)
	}
	w := s.watchFor(id, s.cfg.HangupWait)
	defer w.close()
	live, err := s.store.RequestHangup(ctx, id, dialq.EndedByAPI, HangupReason)
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

// hangupLiveKit ends a live LiveKit SIP call: the request is stored first,
// so the phone's participant_left that the removal causes is read as the
// API's hang-up, not the phone's.
func (s *Service) hangupLiveKit(ctx context.Context, tenantID uuid.UUID, call *dialq.Call) (*dialq.Call, bool, error) {
	if s.phones == nil {
		return nil, false, dialq.Errorf(dialq.EUNAVAILABLE,
			"Call %s goes through a LiveKit SIP trunk and this API runs without LiveKit credentials (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET).", call.ID)
	}
	if _, err := s.store.RequestHangup(ctx, call.ID, dialq.EndedByAPI, HangupReason); err != nil {
		return nil, false, err
	}
	if call.RoomName != "" {
		if err := s.phones.RemovePhone(ctx, call.RoomName, call.PhoneIdentity()); err != nil {
			return nil, false, err
		}
	}
	// Re-read: the answer may have come meanwhile, which decides the end.
	fresh, err := s.store.FindCall(ctx, tenantID, call.ID)
	if err != nil {
		return nil, false, err
	}
	end := dialq.Canceled(HangupReason + " before the answer")
	if fresh.Status == dialq.StatusAnswered {
		end = dialq.Completed(dialq.EndedByAPI, HangupReason)
	}
	if _, err := s.store.RecordEnded(ctx, call.ID, end, s.Now()); err != nil {
		return nil, false, err
	}
	if fresh, err = s.store.FindCall(ctx, tenantID, call.ID); err != nil {
		return nil, false, err
	}
	s.changed(ctx, fresh)
	return fresh, fresh.Status.Terminal(), nil
}

func notLive(c *dialq.Call) error {
	return dialq.Errorf(dialq.ECONFLICT, "Call %s is not live (status %s).", c.ID, c.Status)
}

// changed announces c's change to waiting requests of every API process;
// they fall back to Postgres if it is lost.
func (s *Service) changed(ctx context.Context, c *dialq.Call) {
	if s.notify == nil {
		return
	}
	if err := s.notify.CallChanged(context.WithoutCancel(ctx), c.ID, c.Status); err != nil {
		s.log.Warn("announce call change", "call_id", c.ID, "err", err)
	}
}
