package dialq

import "time"

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
	At     time.Time `db:"at" json:"at"`
	Kind   string    `db:"kind" json:"kind"`
	Detail string    `db:"detail" json:"detail"`
}
