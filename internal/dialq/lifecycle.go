package dialq

import (
	"slices"
	"time"
)

// CallStatus is where a call is in its life. docs/call-lifecycle.md draws
// the machine; transitions below is the one place it is enforced.
type CallStatus string

// Call statuses. queued, dialing, ringing and answered are the live ones;
// the rest are terminal: once there, a call never changes status again.
const (
	// StatusQueued: accepted and stored; the dial task is on the queue.
	StatusQueued CallStatus = "queued"
	// StatusDialing: room and agent dispatch exist; the phone is being dialed.
	StatusDialing CallStatus = "dialing"
	// StatusRinging: the phone rings (SIP 180/183).
	StatusRinging CallStatus = "ringing"
	// StatusAnswered: the phone answered and is in the room with the agent.
	StatusAnswered CallStatus = "answered"

	// StatusCompleted: an answered call ended normally; EndedBy says who
	// hung up.
	StatusCompleted CallStatus = "completed"
	// StatusBusy: the callee was busy (SIP 486/600).
	StatusBusy CallStatus = "busy"
	// StatusNoAnswer: nobody answered (SIP 480/408/487, or it rang past
	// its ring time).
	StatusNoAnswer CallStatus = "no_answer"
	// StatusRejected: the callee declined the call (SIP 603/607).
	StatusRejected CallStatus = "rejected"
	// StatusUnreachable: the number does not exist or cannot be reached
	// (SIP 404/410/484/604).
	StatusUnreachable CallStatus = "unreachable"
	// StatusFailed: dialq, LiveKit, the trunk or the carrier failed the
	// call, answered or not; FailureReason says which.
	StatusFailed CallStatus = "failed"
	// StatusCanceled: the call was hung up through the API before anyone
	// answered; nobody was rung if it was still queued.
	StatusCanceled CallStatus = "canceled"
)

// statuses are every CallStatus, the live ones in the order a call goes
// through them, then the terminal ones.
var statuses = []CallStatus{StatusQueued, StatusDialing, StatusRinging, StatusAnswered,
	StatusCompleted, StatusBusy, StatusNoAnswer, StatusRejected, StatusUnreachable, StatusFailed, StatusCanceled}

// unanswered are the terminal statuses of a call nobody answered.
var unanswered = []CallStatus{StatusBusy, StatusNoAnswer, StatusRejected, StatusUnreachable, StatusFailed, StatusCanceled}

// transitions is the state machine: the statuses a call may move to from
// each live status. A terminal status has no entry: nothing leaves it.
var transitions = map[CallStatus][]CallStatus{
	// A queued call can end before it is dialed: the room could not be
	// made, the call was canceled, the task gave up.
	StatusQueued: {StatusDialing, StatusFailed, StatusCanceled},
	// dialing → queued: the dial provably never left (the SIP service was
	// unavailable), so the retry dials again.
	StatusDialing:  append([]CallStatus{StatusQueued, StatusRinging, StatusAnswered}, unanswered...),
	StatusRinging:  append([]CallStatus{StatusAnswered}, unanswered...),
	StatusAnswered: {StatusCompleted, StatusFailed},
}

// Statuses returns every status dialq gives calls.
func Statuses() []CallStatus { return slices.Clone(statuses) }

// Known reports whether s is a status dialq gives calls.
func (s CallStatus) Known() bool { return slices.Contains(statuses, s) }

// Terminal reports whether the call is over: its status never changes again.
func (s CallStatus) Terminal() bool { return s.Known() && transitions[s] == nil }

// CanMove reports whether a call in status from may move to status to.
func (s CallStatus) CanMove(to CallStatus) bool { return slices.Contains(transitions[s], to) }

// From returns the statuses a call may move to s from, in a fixed order:
// the guard a store puts on the change.
func From(s CallStatus) []CallStatus {
	var from []CallStatus
	for _, f := range statuses {
		if f.CanMove(s) {
			from = append(from, f)
		}
	}
	return from
}

// Final reports whether no worker will change the call's dialing outcome
// again: it was answered or is over.
func (s CallStatus) Final() bool { return s == StatusAnswered || s.Terminal() }

// Live reports whether the call is dialed and not over: a phone may ring
// or be connected, and a hang-up has something to end.
func (s CallStatus) Live() bool {
	return s == StatusDialing || s == StatusRinging || s == StatusAnswered
}

func statusNames() []string {
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = string(s)
	}
	return names
}

// EndedBy says who ended a call.
type EndedBy string

// Who ends calls.
const (
	// EndedByPhone: the callee or its network (hang-up, busy, no answer,
	// a SIP failure of the far end).
	EndedByPhone EndedBy = "phone"
	// EndedByAgent: the voice agent left the room or hung up.
	EndedByAgent EndedBy = "agent"
	// EndedByAPI: POST /call/{id}/hangup (or dialqctl hangup).
	EndedByAPI EndedBy = "api"
	// EndedByDialq: dialq itself: max duration, no audio, a watchdog, a
	// worker shutting down, a failure of dialq or what it depends on.
	EndedByDialq EndedBy = "dialq"
)

// APIHangupReason is the reason a hang-up through the API gives: the line
// holding the call records it as ended by the API.
const APIHangupReason = "hung up by API"

// End is how a call ended: what a store records when it moves the call to
// a terminal status.
type End struct {
	Status CallStatus
	By     EndedBy
	// Reason is the end in words ("phone hung up", "the callee is busy
	// (SIP 486 Busy Here)").
	Reason string
	// Failure is set for every status but completed: FailureReason,
	// SIP code and status, LastError.
	Failure *Failure
}

// Completed is the end of an answered call that ended normally.
func Completed(by EndedBy, reason string) End {
	return End{Status: StatusCompleted, By: by, Reason: reason}
}

// Canceled is the end of a call hung up through the API before an answer.
func Canceled(reason string) End {
	f := Failure{Reason: ReasonCanceled, Message: reason}
	return End{Status: StatusCanceled, By: EndedByAPI, Reason: reason, Failure: &f}
}

// Failed is the end of a call by failure f: the callee's answers (busy, no
// answer, ...) end it in their own status, ended by the phone; the rest
// fail it, ended by the phone's side for a carrier's failure and by dialq
// otherwise.
func Failed(f Failure) End {
	e := End{Status: StatusFailed, By: EndedByDialq, Reason: f.Message, Failure: &f}
	switch f.Reason {
	case ReasonBusy:
		e.Status = StatusBusy
	case ReasonNoAnswer:
		e.Status = StatusNoAnswer
	case ReasonRejected:
		e.Status = StatusRejected
	case ReasonUnreachable:
		e.Status = StatusUnreachable
	case ReasonCanceled:
		e.Status, e.By = StatusCanceled, EndedByAPI
	}
	if e.Status != StatusFailed || f.Reason == ReasonCarrier {
		if e.By == EndedByDialq {
			e.By = EndedByPhone
		}
	}
	return e
}

// Duration is how long an answered call that ended was connected; zero
// for a call not answered or not over.
func (c *Call) Duration() time.Duration {
	if c.AnsweredAt == nil || c.EndedAt == nil || c.EndedAt.Before(*c.AnsweredAt) {
		return 0
	}
	return c.EndedAt.Sub(*c.AnsweredAt)
}

// Failed reports whether the call is over without a normal end: every
// terminal status but completed.
func (c *Call) Failed() bool { return c.Status.Terminal() && c.Status != StatusCompleted }
