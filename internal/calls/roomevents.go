package calls

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// RoomEvent applies what LiveKit reported of a call's room (its webhooks,
// verified by package livekit) to a LiveKit SIP call:
//
//   - the phone participant left an answered call: it completes, ended by
//     the phone (by the API when a hang-up was asked for: its removal is
//     what made the phone leave). A phone removed otherwise was removed by
//     dialq, which records that end itself: the event is only kept in the
//     timeline;
//   - the agent left an answered call: dialq removes the phone and the call
//     completes, ended by the agent: an agent hangs up by leaving. Unless
//     the call's assistant keeps calls when the agent leaves: then the
//     leaving is recorded (agent_left, and when, for the no-agent watchdog
//     of package reconcile) and the call goes on;
//   - the room finished under an answered call: it completes, ended by
//     dialq.
//
// Before the answer the dial outcome (busy, no answer, ...) is the dial
// task's to record, with the SIP code the dial returns; the event is kept
// in the timeline. Events of rooms dialq did not make and of bridged calls
// (the bridge follows its own) change nothing; those of calls already over
// are kept in the timeline as ignored.
func (s *Service) RoomEvent(ctx context.Context, ev dialq.RoomEvent) error {
	if ev.CallID == uuid.Nil {
		return nil
	}
	call, err := s.store.GetCall(ctx, ev.CallID)
	if dialq.ErrorCode(err) == dialq.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if call.RoomName != ev.Room || call.Service == dialq.ServiceExotel {
		return nil
	}
	if call.Status.Terminal() {
		// Late (the hang-up that caused it recorded the end first) or a
		// repeat: in the timeline, marked ignored, and nothing more.
		return s.store.RecordEvent(ctx, call.ID, lateKind(ev, call), eventDetail(ev))
	}
	log := s.log.With("call_id", call.ID, "room", ev.Room, "livekit_event", ev.ID)
	var end *dialq.End
	switch {
	case ev.Kind == dialq.RoomFinished:
		if call.Status == dialq.StatusAnswered {
			e := dialq.Completed(dialq.EndedByDialq, "room closed")
			end = &e
		}
	case ev.Kind != dialq.RoomParticipantLeft:
		return nil
	case ev.Identity == call.ParticipantIdentity && ev.Identity != "":
		if call.Status != dialq.StatusAnswered {
			return s.store.RecordEvent(ctx, call.ID, "phone_left", eventDetail(ev))
		}
		if ev.DisconnectReason == removedByServer && call.HangupReason == "" {
			// dialq removed the phone (the agent left, a watchdog) and
			// records why right after; this event must not race it to the
			// row as the phone's hang-up. Were the remover to die first,
			// the reconciler finds the phone gone.
			return s.store.RecordEvent(ctx, call.ID, "phone_left", eventDetail(ev))
		}
		e := dialq.Completed(dialq.EndedByPhone, "phone hung up")
		if ev.SIPCallStatus != "hangup" && ev.DisconnectReason != "CLIENT_INITIATED" {
			e.Reason = "phone left the room (" + ev.DisconnectReason + ")"
		}
		switch {
		case call.HangupReason != "":
			e = dialq.Completed(call.HangupBy, call.HangupReason)
		case call.OutlastedMaxDuration(s.Now()):
			// LiveKit's SIP service hung up at the call's max_duration.
			e = dialq.Completed(dialq.EndedByDialq, "max duration")
		}
		end = &e
	case ev.Agent:
		if call.Status != dialq.StatusAnswered {
			return s.store.RecordAgentLeft(ctx, call.ID, eventDetail(ev), s.Now())
		}
		if call.KeepCallOnAgentLeave {
			log.Info("the agent left; the call goes on (its assistant keeps calls when the agent leaves)", "participant", ev.Identity)
			return s.store.RecordAgentLeft(ctx, call.ID, eventDetail(ev)+"; the call goes on", s.Now())
		}
		if s.phones == nil {
			return fmt.Errorf("the agent left call %s: cannot hang up its phone without LiveKit credentials", call.ID)
		}
		e := dialq.Completed(dialq.EndedByAgent, agentLeftReason)
		// Stored before the removal: the reconciler may find the phone gone
		// before this records the end, and must read it as the agent's.
		if _, err := s.store.RequestHangup(ctx, call.ID, e.By, e.Reason); err != nil {
			return err
		}
		if err := s.phones.RemovePhone(ctx, call.RoomName, call.ParticipantIdentity); err != nil {
			return err
		}
		end = &e
	default:
		return nil
	}
	if end == nil {
		return nil
	}
	ok, err := s.store.RecordEnded(ctx, call.ID, *end, s.Now())
	if err != nil {
		return err
	}
	if ok {
		call.Status = end.Status
		s.changed(ctx, call)
		log.Info("call ended", "status", end.Status, "ended_by", end.By, "reason", end.Reason, "by_event", ev.Kind)
	}
	return nil
}

// agentLeftReason is the end reason of a call its agent hung up by leaving.
const agentLeftReason = "agent left"

// removedByServer is LiveKit's DisconnectReason of a participant removed
// through its API (RemoveParticipant), as dialq hangs up a phone.
const removedByServer = "PARTICIPANT_REMOVED"

// lateKind names the timeline event of a room event that came after the
// call's end.
func lateKind(ev dialq.RoomEvent, c *dialq.Call) string {
	switch {
	case ev.Kind == dialq.RoomFinished:
		return "room_finished"
	case ev.Identity == c.ParticipantIdentity:
		return "phone_left"
	case ev.Agent:
		return "agent_left"
	}
	return "participant_left"
}

// eventDetail is a room event as the timeline shows it.
func eventDetail(ev dialq.RoomEvent) string {
	if ev.Kind == dialq.RoomFinished {
		return ev.Room
	}
	return fmt.Sprintf("%s left (sip.callStatus %q, %s)", ev.Identity, ev.SIPCallStatus, ev.DisconnectReason)
}
