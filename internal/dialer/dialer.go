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
	// GetCall reads the call without counting an attempt: what a call
	// its limits hold back is read with.
	GetCall(ctx context.Context, id uuid.UUID) (*dialq.Call, error)
	StartAttempt(ctx context.Context, id uuid.UUID) (*dialq.Call, error)
	RecordRoom(ctx context.Context, id uuid.UUID, room string) error
	RecordDispatch(ctx context.Context, id uuid.UUID, dispatchID, state string) error
	RecordAgentJoined(ctx context.Context, id uuid.UUID, identity string, waited time.Duration) error
	MarkDialing(ctx context.Context, id uuid.UUID, identity string, at time.Time) error
	RecordAnswered(ctx context.Context, id uuid.UUID, p dialq.Participant, at time.Time) (bool, error)
	RecordFailed(ctx context.Context, id uuid.UUID, f dialq.Failure, at time.Time) (bool, error)
	RecordAttemptError(ctx context.Context, id uuid.UUID, msg string) error
	RecordDialNotPlaced(ctx context.Context, id uuid.UUID, msg string) error
	// RecordThrottled notes on a queued call's timeline why it waits, the
	// first time only.
	RecordThrottled(ctx context.Context, id uuid.UUID, detail string) error
	// HangupReason is the hang-up asked for the call, "" for none.
	HangupReason(ctx context.Context, id uuid.UUID) (string, error)
}

// Notifier announces call changes to waiting API requests.
type Notifier interface {
	CallChanged(ctx context.Context, id uuid.UUID, s dialq.CallStatus) error
}

// LimitSource names limits a call is dialed under: the store names its
// trunk's and its tenant's (postgres.DB.LimitsOf); the campaign scheduler
// names its campaign's. Each source is asked before every fresh dial, so a
// limit changed while a call waits applies to it.
type LimitSource interface {
	LimitsOf(ctx context.Context, c *dialq.Call) ([]dialq.Limit, error)
}

// Limiter holds calls under their limits, for every worker at once
// (limiter.Limiter).
type Limiter interface {
	// Acquire asks for call id to be dialed now under limits, its slots
	// held for lease: all or nothing, idempotent for id.
	Acquire(ctx context.Context, id uuid.UUID, limits []dialq.Limit, lease time.Duration) (dialq.Admission, error)
	// Hold keeps a dialed call's slots, whatever their count.
	Hold(ctx context.Context, id uuid.UUID, limits []dialq.Limit, lease time.Duration) error
	// PaceDial gives call id, about to be dialed, its turn among the dials
	// under its calls-per-second limits.
	PaceDial(ctx context.Context, id uuid.UUID, limits []dialq.Limit) (dialq.Admission, error)
	// Release frees what call id holds.
	Release(ctx context.Context, id uuid.UUID) error
}

// Dialer handles call:dial tasks.
type Dialer struct {
	Store Store
	// Rooms creates the call's room and agent dispatch.
	Rooms dialq.Rooms
	// Lines dial the phone, one per call service. A call whose service has
	// no line here fails as bridge_unavailable (a worker run without the SIP
	// bridge).
	Lines  map[dialq.CallService]dialq.Line
	Notify Notifier
	Log    *slog.Logger
	// Now is the clock; tests may set it.
	Now func() time.Time
	// Phones hangs up a LiveKit SIP phone that answered a call already over
	// (hung up through the API while it rang). Optional.
	Phones interface {
		RemovePhone(ctx context.Context, room, identity string) error
	}
	// RingTimeout is how long the phone may ring (DIALQ_RING_TIMEOUT). No
	// dial starts with less than RingTimeout + dialq.DialMargin left before
	// the task's deadline (DIALQ_DIAL_TIMEOUT).
	RingTimeout time.Duration
	// PublicURL is where the API answers for the agents
	// (DIALQ_PUBLIC_URL): their report URL is made of it.
	PublicURL string
	// ReportTokens issues the token each call's agent reports with; nil
	// issues none (no DIALQ_SECRET_KEY): the agent then reports with the
	// tenant's API key.
	ReportTokens *dialq.ReportTokens
	// AgentPoll is how often the room is looked at while the call waits for
	// its agent to join (150 ms when zero).
	AgentPoll time.Duration
	// Limiter holds each call under the limits Limits name before it is
	// dialed (docs/limits.md); nil dials every call at once. The worker
	// frees a call's slots when it hears the call ended, whoever ended it.
	Limiter Limiter
	Limits  []LimitSource
	// MaxCallDuration is the longest an answered call lasts unless it says
	// otherwise (DIALQ_MAX_CALL_DURATION; an hour when zero): with the
	// ring time, how long a call's slots are held before its lease ends.
	MaxCallDuration time.Duration
	// ThrottleRetry is how long a call waits for a free slot before it
	// asks again (a second when zero; asynq reschedules to the second).
	ThrottleRetry time.Duration
	// Campaigns checks a campaign's call right before its dial
	// (campaign.go); nil dials campaign calls unchecked.
	Campaigns CampaignCheck
	// Steps is told how long each step of placing a call took
	// (metrics.Metrics); nil tells nobody.
	Steps StepObserver
}

// StepObserver hears how long each step of placing a call took: step is
// StepRoom, StepDispatch or StepDial, err the step's failure or nil.
type StepObserver interface {
	ObserveDialStep(step string, service dialq.CallService, d time.Duration, err error)
}

// The steps a StepObserver hears of.
const (
	// StepRoom creates the call's LiveKit room.
	StepRoom = "room"
	// StepDispatch dispatches the agent into it (or finds the dispatch an
	// earlier attempt made).
	StepDispatch = "dispatch"
	// StepDial dials the phone through the call's line: to the answer for a
	// LiveKit SIP call, to the INVITE handed over for dialq's bridge.
	StepDial = "dial"
)

// observe tells Steps that step of c, started at start, ended with err.
func (d *Dialer) observe(step string, c *dialq.Call, start time.Time, err error) {
	if d.Steps != nil {
		d.Steps.ObserveDialStep(step, c.Service, time.Since(start), err)
	}
}

// defaultAgentPoll keeps the wait for the agent within a poll of its join
// at one cheap request per poll.
const defaultAgentPoll = 150 * time.Millisecond

// Register adds the dialer's handler to mux.
func (d *Dialer) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(queue.TypeCallDial, d.HandleDialTask)
}

// HandleDialTask places the call of a call:dial task (Attempt), and mirrors
// the outcome into asynq's result for Asynqmon once there is one.
func (d *Dialer) HandleDialTask(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParseDialPayload(t)
	if err != nil {
		return err
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	c, err := d.Attempt(ctx, p.CallID, retried < maxRetry)
	if c != nil && (err == nil || errors.Is(err, asynq.SkipRetry)) {
		d.writeResult(t, c)
	}
	return err
}

// Attempt runs one attempt of call id's dial task; mayRetry says whether
// asynq runs another if this one fails in a way that may pass. It returns
// the call as the attempt left it, and nil once the call has an outcome a
// person caused (answered, busy, no answer, ...); an error for asynq to
// retry when a dependency failed and trying again is safe; and an error
// wrapping asynq.SkipRetry when the call failed for good for a reason an
// operator should see. Every failure is recorded on the call first. A call
// its limits hold back returns a *ThrottledError: it stays queued with no
// attempt counted, and asynq runs the task again once it may go, without
// counting a failure (IsFailure).
func (d *Dialer) Attempt(ctx context.Context, id uuid.UUID, mayRetry bool) (*dialq.Call, error) {
	var limits []dialq.Limit
	if d.Limiter != nil {
		// The call's limits first: a call they hold back is not counted an
		// attempt, nor written to, nor given a room.
		c, err := d.Store.GetCall(ctx, id)
		if err != nil {
			return nil, d.notStarted(ctx, id, err)
		}
		if !c.Status.Final() {
			if limits, err = d.admit(ctx, d.Log.With("call_id", c.ID), c, mayRetry); err != nil {
				return c, err
			}
		}
	}
	c, err := d.Store.StartAttempt(ctx, id)
	if err != nil {
		return nil, d.notStarted(ctx, id, err)
	}
	log := d.Log.With("call_id", c.ID, "attempt", c.Attempts)
	if c.Status.Final() {
		if c.Status.Terminal() && d.Limiter != nil {
			// Over since it was read: its end may have been heard, and its
			// slots freed, before they were taken.
			d.release(ctx, log, c.ID)
		}
		log.Info("call already has an outcome; nothing to do", "status", c.Status)
		return c, nil
	}

	err = d.place(ctx, log, c, limits)
	if err == nil || errors.Is(err, errHeld) {
		return c, nil
	}

	se := dialq.AsStepError(err)
	if se.Retry && mayRetry {
		log.Warn("call attempt failed; will retry", "err", err)
		if rerr := d.Store.RecordAttemptError(context.WithoutCancel(ctx), c.ID, se.Error()); rerr != nil {
			log.Error("record attempt error", "err", rerr)
		}
		d.changed(ctx, log, c.ID, c.Status)
		return c, err
	}

	if c.Status == dialq.StatusDialing || c.Status == dialq.StatusRinging {
		// A hang-up through the API removes the ringing phone, which fails
		// the dial: the call was canceled, not unanswered.
		reason, herr := d.Store.HangupReason(context.WithoutCancel(ctx), c.ID)
		if herr != nil {
			return c, fmt.Errorf("read hang-up of call %s: %w", c.ID, herr)
		}
		if reason != "" {
			se = &dialq.StepError{Err: err, Failure: dialq.Failure{Reason: dialq.ReasonCanceled,
				Message: reason + " before the answer"}}
		}
	}
	log.Warn("call failed", "reason", se.Failure.Reason, "sip_code", se.Failure.SIPCode, "err", err)
	if _, rerr := d.Store.RecordFailed(context.WithoutCancel(ctx), c.ID, se.Failure, d.Now()); rerr != nil {
		// The row could not be written: let asynq retry so the outcome is not lost.
		return c, fmt.Errorf("record failure of call %s: %w", c.ID, rerr)
	}
	end := dialq.Failed(se.Failure)
	c.Status, c.FailureReason, c.EndedBy, c.EndReason = end.Status, se.Failure.Reason, end.By, end.Reason
	c.SIPStatusCode, c.SIPStatus, c.LastError = se.Failure.SIPCode, se.Failure.SIPStatus, se.Failure.Message
	d.changed(ctx, log, c.ID, end.Status)
	if se.Failure.Reason.ErrorCode() == dialq.ECALLFAILED {
		return c, nil // the callee's answer: the task did its job
	}
	return c, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
}

// notStarted is what an attempt whose call could not be read returns: a
// call that does not exist is not retried; one whose row cannot be decoded
// is failed, never dialed; anything else is retried.
func (d *Dialer) notStarted(ctx context.Context, id uuid.UUID, err error) error {
	if dialq.ErrorCode(err) == dialq.ENOTFOUND {
		return fmt.Errorf("call %s: %w", id, errors.Join(err, asynq.SkipRetry))
	}
	if errors.Is(err, dialq.ErrUnreadableCall) {
		// No attempt will read it better: fail it, never dialed.
		d.Log.Error("stored call cannot be read; failing it", "call_id", id, "err", err)
		f := dialq.Failure{Reason: dialq.ReasonInternal, Message: "the stored call cannot be read, so it was never dialed"}
		if _, rerr := d.Store.RecordFailed(context.WithoutCancel(ctx), id, f, d.Now()); rerr != nil {
			return fmt.Errorf("fail unreadable call %s: %w", id, rerr)
		}
		d.changed(ctx, d.Log.With("call_id", id), id, dialq.StatusFailed)
		return fmt.Errorf("call %s: %w", id, errors.Join(err, asynq.SkipRetry))
	}
	return fmt.Errorf("start attempt of call %s: %w", id, err)
}

// place runs the steps the call still needs, under limits (those admit
// held it under). c is updated as they succeed.
func (d *Dialer) place(ctx context.Context, log *slog.Logger, c *dialq.Call, limits []dialq.Limit) error {
	if c.Status == dialq.StatusQueued {
		// It will be dialed: refuse before making a room nobody will use.
		if err := d.holdCampaignCall(ctx, log, c); err != nil {
			return err
		}
		if err := d.checkBudget(ctx, c); err != nil {
			return err
		}
	}
	if c.RoomName == "" {
		room := dialq.RoomNameFor(c)
		start := time.Now()
		err := d.Rooms.CreateRoom(ctx, room, roomMetadata(c))
		d.observe(StepRoom, c, start, err)
		if err != nil {
			return err
		}
		if err := d.Store.RecordRoom(ctx, c.ID, room); err != nil {
			return fmt.Errorf("record room: %w", err)
		}
		c.RoomName = room
		log.Debug("room created", "room", room)
	}

	if c.DispatchID == "" {
		md := dialq.DispatchMetadataFor(c, dialq.ReportAccess{
			URL: dialq.ReportURL(d.PublicURL, c.ID), Token: d.ReportTokens.Issue(c)})
		start := time.Now()
		disp, found, err := d.dispatch(ctx, c, md)
		d.observe(StepDispatch, c, start, err)
		if err != nil {
			return err
		}
		if err := d.Store.RecordDispatch(ctx, c.ID, disp.ID, disp.State); err != nil {
			return fmt.Errorf("record dispatch: %w", err)
		}
		c.DispatchID, c.DispatchState = disp.ID, disp.State
		log.Debug("agent dispatched", "dispatch_id", disp.ID, "agent", c.AgentName, "reused", found)
	}

	if c.Status == dialq.StatusQueued {
		if err := d.awaitAgent(ctx, log, c); err != nil {
			return err
		}
	}
	return d.dial(ctx, log, c, limits)
}

// dispatch dispatches c's agent into its room, or finds the dispatch an
// earlier attempt made and died before recording (found).
func (d *Dialer) dispatch(ctx context.Context, c *dialq.Call, md string) (disp dialq.Dispatch, found bool, err error) {
	if c.Attempts > 1 {
		if disp, found, err = d.Rooms.FindDispatch(ctx, c.RoomName, c.AgentName, md); err != nil || found {
			return disp, found, err
		}
	}
	disp, err = d.Rooms.CreateDispatch(ctx, c.RoomName, c.AgentName, md)
	return disp, false, err
}

// joinWait is how long c may still wait for its agent before the dial.
func (d *Dialer) joinWait(c *dialq.Call) time.Duration {
	if c.DispatchState == dialq.DispatchRunning {
		return 0 // an earlier attempt saw it join
	}
	return c.AgentJoinTimeout
}

// awaitAgent waits until the dispatched agent has joined the call's room,
// so the callee who answers hears it, at most the call's AgentJoinTimeout
// (its assistant's; zero dials without waiting). An agent that does not
// come fails the call as agent_unavailable, for good, never dialed. LiveKit
// failing while it looks is retried as LiveKit's failure; the call is still
// queued, so the retry waits again.
func (d *Dialer) awaitAgent(ctx context.Context, log *slog.Logger, c *dialq.Call) error {
	timeout := d.joinWait(c)
	if timeout <= 0 {
		return nil
	}
	poll := d.AgentPoll
	if poll <= 0 {
		poll = defaultAgentPoll
	}
	start := d.Now()
	expired := time.NewTimer(timeout)
	defer expired.Stop()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		identity, found, err := d.Rooms.FindAgent(wctx, c.RoomName, c.AgentName)
		switch {
		case err == nil && found:
			waited := d.Now().Sub(start)
			if err := d.Store.RecordAgentJoined(ctx, c.ID, identity, waited); err != nil {
				return fmt.Errorf("record agent joined: %w", err)
			}
			c.DispatchState = dialq.DispatchRunning
			log.Debug("agent joined", "agent", c.AgentName, "identity", identity, "waited", waited)
			return nil
		case err == nil:
			lastErr = nil
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil:
			// Cut by the end of the wait: says nothing of LiveKit, so the
			// answer of the poll before stands.
		case !dialq.AsStepError(err).Retry:
			return err
		default:
			lastErr = err // LiveKit may answer on the next poll
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-expired.C:
			if lastErr != nil {
				return lastErr
			}
			return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonAgentUnavailable,
				Message: fmt.Sprintf("agent %q did not join the call's room within %s (the assistant's agent_join_timeout); the number was not dialed",
					c.AgentName, timeout)}}
		case <-time.After(poll):
		}
	}
}

// dial dials the phone through the call's line, once: a retry of a call
// an earlier attempt left dialing asks the line for what it dialed, and
// fails the call if there is no trace of it, never dialing again. A fresh
// dial waits for its turn among the dials under its calls-per-second
// limits first.
func (d *Dialer) dial(ctx context.Context, log *slog.Logger, c *dialq.Call, limits []dialq.Limit) error {
	line, ok := d.Lines[c.Service]
	if !ok {
		return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonBridge,
			Message: fmt.Sprintf("this worker runs without a line for %s calls (the SIP bridge is off); the room and agent dispatch were created but the number was not dialed", c.Service)}}
	}
	if c.Status != dialq.StatusQueued {
		// An earlier attempt marked the call dialing and did not put it
		// back: its dial may have left. (A call back to queued was never
		// dialed, or its dial provably never left; a phone of that identity
		// in the room is what a failed join left, not a call to follow.)
		res, found, err := line.Recover(ctx, c)
		if err != nil {
			return err
		}
		if !found {
			return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonInternal,
				Message: "an earlier attempt was interrupted while dialing and left no trace of the call; not dialing again so the number is never called twice"}}
		}
		log.Info("an earlier attempt dialed the phone; following that call, not dialing again", "sip_call_id", c.SIPCallID)
		return d.dialed(ctx, log, c, res)
	}

	if err := d.paceDial(ctx, log, c, limits); err != nil {
		return err
	}
	if err := d.holdBeforeRing(ctx, log, c); err != nil {
		return err
	}
	identity := dialq.ParticipantIdentityFor(c.ToNumber)
	if err := d.Store.MarkDialing(ctx, c.ID, identity, d.Now()); err != nil {
		return fmt.Errorf("mark dialing: %w", err)
	}
	c.Status, c.ParticipantIdentity = dialq.StatusDialing, identity
	d.changed(ctx, log, c.ID, dialq.StatusDialing)

	start := time.Now()
	res, err := line.Dial(ctx, c)
	d.observe(StepDial, c, start, err)
	if err != nil {
		// Only a dial that provably never left goes back to queued, to be
		// dialed again; any other failure leaves it dialing, and a retry
		// follows what it finds or gives up without dialing.
		if se := dialq.AsStepError(err); se.NotPlaced {
			if rerr := d.Store.RecordDialNotPlaced(context.WithoutCancel(ctx), c.ID, se.Error()); rerr != nil {
				return fmt.Errorf("record dial not placed (%v): %w", err, rerr)
			}
			c.Status = dialq.StatusQueued
		}
		return err
	}
	return d.dialed(ctx, log, c, res)
}

// checkBudget refuses to dial when the task's deadline is nearer than the
// ring time plus dialq.DialMargin: asynq would cut the attempt while the
// phone rings and retry it, ringing the person twice. The deadline is set
// where the call was enqueued (the API's DIALQ_DIAL_TIMEOUT, longer for a
// call with its own ring_timeout: dialq.DialTaskTimeout), the ring time is
// the call's ring_timeout or this worker's DIALQ_RING_TIMEOUT; two processes
// configured apart must not be able to do that.
//
// The wait for the agent to join counts against the same deadline, so the
// ring still fits after it.
func (d *Dialer) checkBudget(ctx context.Context, c *dialq.Call) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	wait, ring := d.joinWait(c), c.Options.Ring(d.RingTimeout)
	need := wait + ring + dialq.DialMargin
	if left := time.Until(deadline); left < need {
		waitNote := ""
		if wait > 0 {
			waitNote = fmt.Sprintf(" and the wait for the agent to join (the assistant's agent_join_timeout, %s)", wait)
		}
		ringNote := "this worker's ring time DIALQ_RING_TIMEOUT"
		if c.Options.RingTimeout != nil {
			ringNote = "the call's ring_timeout"
		}
		return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonInternal,
			Message: fmt.Sprintf("not dialed: the dial task's deadline leaves %s, less than %s (%s) plus %s%s; "+
				"raise DIALQ_DIAL_TIMEOUT (where calls are enqueued: the API) or lower DIALQ_RING_TIMEOUT (the worker)",
				left.Round(time.Second), ringNote, ring, dialq.DialMargin, waitNote)}}
	}
	return nil
}

// dialed records how far the line took the call: answered, or handed over
// to a line that follows it itself (a waiting request answers now).
func (d *Dialer) dialed(ctx context.Context, log *slog.Logger, c *dialq.Call, res dialq.Dialed) error {
	if res.Answered != nil {
		return d.answered(ctx, log, c, *res.Answered)
	}
	d.changed(ctx, log, c.ID, c.Status)
	return nil
}

func (d *Dialer) answered(ctx context.Context, log *slog.Logger, c *dialq.Call, p dialq.Participant) error {
	ok, err := d.Store.RecordAnswered(context.WithoutCancel(ctx), c.ID, p, d.Now())
	if err != nil {
		return fmt.Errorf("record answer: %w", err)
	}
	if !ok && d.Phones != nil && c.Service == dialq.ServiceTwilio {
		// The call ended while the phone rang (hung up through the API,
		// canceled): nobody is to talk to a phone that answered anyway.
		log.Info("the phone answered a call already over; hanging it up", "participant_sid", p.SID)
		if err := d.Phones.RemovePhone(context.WithoutCancel(ctx), c.RoomName, p.Identity); err != nil {
			log.Warn("hang up the phone of a call already over", "err", err)
		}
		return nil
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
