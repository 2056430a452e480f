// Package dialer places calls: it runs the call:dial task's steps (room,
// agent dispatch, dial), each recorded on the call's row before the next, so
// a retry after a crash resumes where the last attempt stopped and never
// dials the number twice.
package dialer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/queue"
)

// Store is what the dialer records in Postgres.
type Store interface {
	StartAttempt(ctx context.Context, id uuid.UUID) (*dialq.Call, error)
	RecordRoom(ctx context.Context, id uuid.UUID, room string) error
	RecordDispatch(ctx context.Context, id uuid.UUID, dispatchID, state string) error
	MarkDialing(ctx context.Context, id uuid.UUID, identity string, at time.Time) error
	RecordAnswered(ctx context.Context, id uuid.UUID, p dialq.Participant, at time.Time) (bool, error)
	RecordFailed(ctx context.Context, id uuid.UUID, f dialq.Failure, at time.Time) (bool, error)
	RecordAttemptError(ctx context.Context, id uuid.UUID, msg string) error
	RecordDialNotPlaced(ctx context.Context, id uuid.UUID, msg string) error
}

// Notifier announces call changes to waiting API requests.
type Notifier interface {
	CallChanged(ctx context.Context, id uuid.UUID, s dialq.CallStatus) error
}

// Bridge dials through dialq's own SIP bridge (Exotel): Place returns once
// the INVITE is out and recorded; the bridge follows the call from there.
type Bridge interface {
	Place(ctx context.Context, c *dialq.Call) error
}

// Dialer handles call:dial tasks.
type Dialer struct {
	Store   Store
	LiveKit dialq.LiveKit
	// Bridge places Exotel calls; nil fails them as bridge_unavailable.
	Bridge Bridge
	Notify Notifier
	Log    *slog.Logger
	// Now is the clock; tests may set it.
	Now func() time.Time
	// RingTimeout is how long the phone may ring.
	RingTimeout time.Duration
	// FollowInterval is how often a retry that finds the phone already
	// ringing from an earlier attempt looks at it again.
	FollowInterval time.Duration
}

// Register adds the dialer's handler to mux.
func (d *Dialer) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(queue.TypeCallDial, d.HandleDialTask)
}

// HandleDialTask places the call of a call:dial task. It returns nil once the
// call has an outcome a person caused (answered, busy, no answer, ...), an
// error asynq retries when a dependency failed and trying again is safe, and
// an error wrapping asynq.SkipRetry when the call failed for good for a
// reason an operator should see.
func (d *Dialer) HandleDialTask(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParseDialPayload(t)
	if err != nil {
		return err
	}
	c, err := d.Store.StartAttempt(ctx, p.CallID)
	if err != nil {
		if dialq.ErrorCode(err) == dialq.ENOTFOUND {
			return fmt.Errorf("call %s: %w", p.CallID, errors.Join(err, asynq.SkipRetry))
		}
		return fmt.Errorf("start attempt of call %s: %w", p.CallID, err)
	}
	log := d.Log.With("call_id", c.ID, "attempt", c.Attempts)
	if c.Status.Final() {
		log.Info("call already has an outcome; nothing to do", "status", c.Status)
		return nil
	}

	err = d.place(ctx, log, c)
	if err == nil {
		d.writeResult(t, c)
		return nil
	}

	se := dialq.AsStepError(err)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if se.Retry && retried < maxRetry {
		log.Warn("call attempt failed; will retry", "err", err, "retried", retried, "max_retry", maxRetry)
		if rerr := d.Store.RecordAttemptError(context.WithoutCancel(ctx), c.ID, se.Error()); rerr != nil {
			log.Error("record attempt error", "err", rerr)
		}
		d.changed(ctx, log, c.ID, c.Status)
		return err
	}

	log.Warn("call failed", "reason", se.Failure.Reason, "sip_code", se.Failure.SIPCode, "err", err)
	if _, rerr := d.Store.RecordFailed(context.WithoutCancel(ctx), c.ID, se.Failure, d.Now()); rerr != nil {
		// The row could not be written: let asynq retry so the outcome is not lost.
		return fmt.Errorf("record failure of call %s: %w", c.ID, rerr)
	}
	c.Status, c.FailureReason = dialq.StatusFailed, se.Failure.Reason
	c.SIPStatusCode, c.SIPStatus, c.LastError = se.Failure.SIPCode, se.Failure.SIPStatus, se.Failure.Message
	d.changed(ctx, log, c.ID, dialq.StatusFailed)
	d.writeResult(t, c)
	if se.Failure.Reason.ErrorCode() == dialq.ECALLFAILED {
		return nil // the callee's answer: the task did its job
	}
	return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
}

// place runs the steps the call still needs. c is updated as they succeed.
func (d *Dialer) place(ctx context.Context, log *slog.Logger, c *dialq.Call) error {
	if c.RoomName == "" {
		room := dialq.RoomNameFor(c)
		if err := d.LiveKit.CreateRoom(ctx, room, roomMetadata(c)); err != nil {
			return err
		}
		if err := d.Store.RecordRoom(ctx, c.ID, room); err != nil {
			return fmt.Errorf("record room: %w", err)
		}
		c.RoomName = room
		log.Debug("room created", "room", room)
	}

	if c.DispatchID == "" {
		md := dialq.DispatchMetadataFor(c)
		var disp dialq.Dispatch
		found := false
		if c.Attempts > 1 {
			// An earlier attempt may have dispatched and died before recording it.
			var err error
			if disp, found, err = d.LiveKit.FindDispatch(ctx, c.RoomName, c.AgentName, md); err != nil {
				return err
			}
		}
		if !found {
			var err error
			if disp, err = d.LiveKit.CreateDispatch(ctx, c.RoomName, c.AgentName, md); err != nil {
				return err
			}
		}
		if err := d.Store.RecordDispatch(ctx, c.ID, disp.ID, disp.State); err != nil {
			return fmt.Errorf("record dispatch: %w", err)
		}
		c.DispatchID, c.DispatchState = disp.ID, disp.State
		log.Debug("agent dispatched", "dispatch_id", disp.ID, "agent", c.AgentName, "reused", found)
	}

	if c.Service == dialq.ServiceExotel {
		return d.dialBridge(ctx, log, c)
	}
	return d.dial(ctx, log, c)
}

// dialBridge hands an Exotel call to the bridge, unless an earlier attempt
// already did.
func (d *Dialer) dialBridge(ctx context.Context, log *slog.Logger, c *dialq.Call) error {
	if d.Bridge == nil {
		return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonBridge,
			Message: "this worker runs without the Exotel SIP bridge; the room and agent dispatch were created but the number was not dialed"}}
	}
	if c.SIPCallID != "" {
		log.Info("INVITE already sent by an earlier attempt; the bridge session follows the call", "sip_call_id", c.SIPCallID)
		return nil
	}
	if c.Attempts > 1 && c.Status == dialq.StatusDialing {
		return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonInternal,
			Message: "an earlier attempt was interrupted while dialing through the bridge; not dialing again so the number is never called twice"}}
	}
	identity := dialq.ParticipantIdentityFor(c.ToNumber)
	if err := d.Store.MarkDialing(ctx, c.ID, identity, d.Now()); err != nil {
		return fmt.Errorf("mark dialing: %w", err)
	}
	c.Status, c.ParticipantIdentity = dialq.StatusDialing, identity
	if err := d.Bridge.Place(ctx, c); err != nil {
		if se := dialq.AsStepError(err); se.Retry && ctx.Err() == nil {
			if rerr := d.Store.RecordDialNotPlaced(context.WithoutCancel(ctx), c.ID, se.Error()); rerr != nil {
				return fmt.Errorf("record dial not placed: %w", rerr)
			}
			c.Status = dialq.StatusQueued
		}
		return err
	}
	// The INVITE is out: a waiting request answers now.
	d.changed(ctx, log, c.ID, dialq.StatusDialing)
	return nil
}

// dial dials the phone through the LiveKit trunk, unless an earlier attempt
// already did.
func (d *Dialer) dial(ctx context.Context, log *slog.Logger, c *dialq.Call) error {
	identity := dialq.ParticipantIdentityFor(c.ToNumber)
	if c.Attempts > 1 {
		ps, found, err := d.LiveKit.FindPhone(ctx, c.RoomName, identity)
		if err != nil {
			return err
		}
		if found {
			log.Info("phone already in the room from an earlier attempt; not dialing again", "sip_call_status", ps.CallStatus)
			return d.follow(ctx, log, c, ps)
		}
		if c.Status == dialq.StatusDialing {
			// The last attempt died while dialing: the phone may have rung.
			return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonInternal,
				Message: "an earlier attempt was interrupted while dialing and the phone is not in the room; not dialing again so the number is never called twice"}}
		}
	}

	if err := d.Store.MarkDialing(ctx, c.ID, identity, d.Now()); err != nil {
		return fmt.Errorf("mark dialing: %w", err)
	}
	c.Status, c.ParticipantIdentity = dialq.StatusDialing, identity
	d.changed(ctx, log, c.ID, dialq.StatusDialing)

	p, err := d.LiveKit.DialSIP(ctx, dialq.DialRequest{
		CallID:         c.ID.String(),
		Room:           c.RoomName,
		LiveKitTrunkID: c.LiveKitTrunkID,
		ToNumber:       c.ToNumber,
		Identity:       identity,
		RingTimeout:    d.RingTimeout,
	})
	if err != nil {
		// Only a dial that provably never left (SIP service unavailable, with
		// our context still live) goes back to queued to be dialed again.
		if se := dialq.AsStepError(err); se.Retry && ctx.Err() == nil {
			if rerr := d.Store.RecordDialNotPlaced(context.WithoutCancel(ctx), c.ID, se.Error()); rerr != nil {
				return fmt.Errorf("record dial not placed: %w", rerr)
			}
			c.Status = dialq.StatusQueued
		}
		return err
	}
	return d.answered(ctx, log, c, p)
}

// follow waits for the outcome of a phone an earlier attempt dialed.
func (d *Dialer) follow(ctx context.Context, log *slog.Logger, c *dialq.Call, ps dialq.PhoneState) error {
	deadline := d.Now().Add(d.RingTimeout + 5*time.Second)
	for {
		switch ps.CallStatus {
		case "active", "":
			return d.answered(ctx, log, c, ps.Participant)
		case "hangup":
			return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonNoAnswer,
				Message: "the phone dialed by an earlier attempt hung up before an answer was seen"}}
		}
		if d.Now().After(deadline) {
			return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonNoAnswer,
				Message: "the phone dialed by an earlier attempt did not answer within the ring time"}}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.FollowInterval):
		}
		var found bool
		var err error
		if ps, found, err = d.LiveKit.FindPhone(ctx, c.RoomName, ps.Identity); err != nil {
			return err
		}
		if !found {
			return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonNoAnswer,
				Message: "the phone dialed by an earlier attempt left the room without answering"}}
		}
	}
}

func (d *Dialer) answered(ctx context.Context, log *slog.Logger, c *dialq.Call, p dialq.Participant) error {
	if _, err := d.Store.RecordAnswered(context.WithoutCancel(ctx), c.ID, p, d.Now()); err != nil {
		return fmt.Errorf("record answer: %w", err)
	}
	c.Status, c.ParticipantSID, c.ParticipantIdentity, c.SIPCallID = dialq.StatusAnswered, p.SID, p.Identity, p.SIPCallID
	// One line per answered call; the steps before it are on the call's
	// timeline (GET /call/{id}) and at debug level.
	log.Info("call answered", "room", c.RoomName, "dispatch_id", c.DispatchID,
		"participant_sid", p.SID, "sip_call_id", p.SIPCallID)
	d.changed(ctx, log, c.ID, dialq.StatusAnswered)
	return nil
}

// changed announces a change; waiters fall back to Postgres if it is lost.
func (d *Dialer) changed(ctx context.Context, log *slog.Logger, id uuid.UUID, s dialq.CallStatus) {
	if err := d.Notify.CallChanged(context.WithoutCancel(ctx), id, s); err != nil {
		log.Warn("announce call change", "err", err)
	}
}

// writeResult mirrors the outcome into asynq for Asynqmon; Postgres stays
// the truth.
func (d *Dialer) writeResult(t *asynq.Task, c *dialq.Call) {
	w := t.ResultWriter()
	if w == nil {
		return
	}
	b, _ := json.Marshal(map[string]any{
		"status": c.Status, "failure_reason": c.FailureReason, "sip_status_code": c.SIPStatusCode,
		"room_name": c.RoomName, "dispatch_id": c.DispatchID, "participant_sid": c.ParticipantSID,
	})
	_, _ = w.Write(b)
}

func roomMetadata(c *dialq.Call) string {
	b, _ := json.Marshal(map[string]string{"call_id": c.ID.String(), "assistant_id": c.AssistantID.String()})
	return string(b)
}
