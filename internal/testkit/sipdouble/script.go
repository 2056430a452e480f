package sipdouble

import (
	"maps"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Outcome is what the simulated callee does with one call.
type Outcome struct {
	// Code is the final SIP response to the INVITE: 200 answers; 4xx, 5xx and
	// 6xx reject the call (486 busy, 480 unavailable, 603 decline, 404, 503,
	// 408, ...). Zero, or any other code below 300, means 200.
	Code int
	// Reason is the reason phrase of a rejection. Empty means the standard
	// phrase for Code ("Busy Here" for 486).
	Reason string
	// RingFor is how long the phone rings (180 Ringing) before its final
	// answer. Zero answers or rejects without ringing. A RingFor at or past
	// the request's ringing timeout makes the call time out unanswered.
	RingFor time.Duration
	// HangUpAfter hangs up (BYE from the callee) this long after answering.
	// Zero means the callee stays until the room closes, the participant is
	// removed, the request's max call duration passes or the Server closes.
	HangUpAfter time.Duration
	// HangUpWhenAlone hangs up once every other participant that was in the
	// room has left it, as a person does when the agent goes silent for good.
	// It never fires while nobody else has joined.
	HangUpWhenAlone bool
}

// Script decides per call what the simulated callee does. It runs once per
// CreateSIPParticipant request that passed validation, on the request's own
// goroutine; it must not modify req.
type Script func(req *livekit.CreateSIPParticipantRequest) Outcome

// DefaultScript answers every call after ringing for one second and hangs up
// when everyone else has left the room.
func DefaultScript(*livekit.CreateSIPParticipantRequest) Outcome {
	return Outcome{Code: 200, RingFor: time.Second, HangUpWhenAlone: true}
}

// Always returns a Script that gives every call the same outcome.
func Always(o Outcome) Script {
	return func(*livekit.CreateSIPParticipantRequest) Outcome { return o }
}

// ByNumber returns a Script that looks the dialled number (SipCallTo) up in
// outcomes and falls back to fallback, or to DefaultScript if fallback is nil,
// for numbers it does not list.
func ByNumber(outcomes map[string]Outcome, fallback Script) Script {
	if fallback == nil {
		fallback = DefaultScript
	}
	outcomes = maps.Clone(outcomes)
	return func(req *livekit.CreateSIPParticipantRequest) Outcome {
		if o, ok := outcomes[req.SipCallTo]; ok {
			return o
		}
		return fallback(req)
	}
}
