package dialq

import (
	"fmt"
	"time"
)

// Participant is the phone's participant in the call's room.
type Participant struct {
	SID       string
	Identity  string
	SIPCallID string
}

// Failure is why a call ended without an answer.
type Failure struct {
	Reason FailureReason
	// SIPCode and SIPStatus are the SIP final response, when there was one.
	SIPCode   int
	SIPStatus string
	Message   string
}

// CallEvent is one entry of a call's timeline.
type CallEvent struct {
	// ID orders the events of every call; a stream of the timeline resumes
	// after it (Last-Event-ID).
	ID     int64     `db:"id" json:"id"`
	At     time.Time `db:"at" json:"at"`
	Kind   string    `db:"kind" json:"kind"`
	Detail string    `db:"detail" json:"detail"`
	// Status is the status the event moved the call to; empty for an event
	// that did not change it.
	Status CallStatus `db:"status" json:"status,omitempty"`
	// Ignored marks an event that came too late or twice (the call was
	// over, or already past it) and changed nothing.
	Ignored bool `db:"ignored" json:"ignored,omitempty"`
}

// SIPFailure maps a SIP final response to the failure a call records,
// whichever way it was dialed (a LiveKit SIP trunk or the Exotel bridge), so
// the same answer from the callee always fails the call with the same
// reason. trunk names the side whose credentials a 401/403/407 refused.
func SIPFailure(code int, status, trunk string) Failure {
	f := Failure{SIPCode: code, SIPStatus: status}
	switch {
	case code == 486 || code == 600:
		f.Reason, f.Message = ReasonBusy, "the callee is busy"
	case code == 480 || code == 408 || code == 487:
		f.Reason, f.Message = ReasonNoAnswer, "the callee did not answer"
	case code == 603 || code == 607:
		f.Reason, f.Message = ReasonRejected, "the callee declined the call"
	case code == 404 || code == 410 || code == 484 || code == 604:
		f.Reason, f.Message = ReasonUnreachable, "the number cannot be reached"
	case code == 401 || code == 403 || code == 407:
		f.Reason, f.Message = ReasonTrunk, trunk+" refused dialq's credentials or caller ID"
	default:
		f.Reason, f.Message = ReasonCarrier, "the carrier failed the call"
	}
	f.Message = fmt.Sprintf("%s (SIP %d %s)", f.Message, code, status)
	return f
}
