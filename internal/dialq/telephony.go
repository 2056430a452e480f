package dialq

import (
	"context"
	"errors"
	"time"
)

// Dispatch is an agent dispatch into a call's room.
type Dispatch struct {
	ID string
	// State is what dialq knows of the agent: DispatchJoining once the
	// dispatch exists, DispatchRunning once the agent is seen in the room.
	State string
}

// The states of a call's agent dispatch, as the call's agent_dispatch.state
// shows them (the names of LiveKit's job states).
const (
	DispatchJoining = "JOINING"
	DispatchRunning = "RUNNING"
)

// DefaultAgentJoinTimeout is how long the worker waits for the dispatched
// agent to join the room before it dials, unless the assistant says
// otherwise.
const DefaultAgentJoinTimeout = 10 * time.Second

// DialRequest is what dialing the phone through a LiveKit SIP trunk needs.
type DialRequest struct {
	CallID         string
	Room           string
	LiveKitTrunkID string
	ToNumber       string
	Identity       string
	// RingTimeout is how long the phone may ring before the call is no_answer.
	RingTimeout time.Duration
	// MaxDuration is how long the call may last once answered; zero leaves
	// it to the SIP service's default.
	MaxDuration time.Duration
	// Options are the call's own dial options (caller ID, display name,
	// headers, DTMF, ringtone, Krisp); their durations are in the fields
	// above.
	Options DialOptions
}

// PhoneState is what the room shows of a phone participant.
type PhoneState struct {
	Participant
	// CallStatus is LiveKit's sip.callStatus attribute: dialing, ringing,
	// active, hangup (empty when the participant has no such attribute).
	CallStatus string
}

// Rooms is what placing a call needs from LiveKit before the dial: the
// call's room and its agent dispatch. Every method returns a *StepError when
// it fails, saying whether trying again may help.
type Rooms interface {
	// CreateRoom creates the room, or returns the existing one of that name.
	CreateRoom(ctx context.Context, name, metadata string) error
	// CreateDispatch dispatches agentName into room with metadata.
	CreateDispatch(ctx context.Context, room, agentName, metadata string) (Dispatch, error)
	// FindDispatch returns the dispatch of agentName into room carrying
	// exactly metadata, and false if there is none.
	FindDispatch(ctx context.Context, room, agentName, metadata string) (Dispatch, bool, error)
	// FindAgent returns the identity of the agent named agentName in room,
	// and false while no such agent has joined.
	FindAgent(ctx context.Context, room, agentName string) (identity string, found bool, err error)
}

// SIPParticipants is LiveKit's SIP service as the LiveKit SIP line uses
// it. Every method returns a *StepError when it fails.
type SIPParticipants interface {
	// FindPhone returns the participant identity in room, and false if it is
	// not there.
	FindPhone(ctx context.Context, room, identity string) (PhoneState, bool, error)
	// DialSIP dials the phone and returns once it answers.
	DialSIP(ctx context.Context, r DialRequest) (Participant, error)
}

// LiveKit is all dialq asks of LiveKit's APIs.
type LiveKit interface {
	Rooms
	SIPParticipants
	// RemovePhone takes the phone out of the room, which hangs up its SIP
	// call; a phone or room already gone is not an error.
	RemovePhone(ctx context.Context, room, identity string) error
}

// StepError is a classified failure of one step of placing a call.
type StepError struct {
	// Failure is what the call's row records if the call ends on this error.
	Failure Failure
	// Retry is true when the same step may succeed later (LiveKit down).
	// It says nothing about the phone: a timeout or a cut connection is
	// retried although the dial may have left.
	Retry bool
	// NotPlaced is true when the line knows it sent nothing to the phone
	// (the SIP service said so: over its CPU limit, not reachable, its
	// participant could not join the room; the bridge's INVITE was never
	// written): only then may the dial be made again.
	NotPlaced bool
	Err       error
}

// Error implements the error interface.
func (e *StepError) Error() string {
	if e.Err != nil {
		return string(e.Failure.Reason) + ": " + e.Failure.Message + ": " + e.Err.Error()
	}
	return string(e.Failure.Reason) + ": " + e.Failure.Message
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

// AsStepError returns err's *StepError. An error nobody classified is
// retried: it fails the call as an internal error only once retries run out.
func AsStepError(err error) *StepError {
	if se, ok := errors.AsType[*StepError](err); ok {
		return se
	}
	return &StepError{Failure: Failure{Reason: ReasonInternal, Message: "internal error"}, Retry: true, Err: err}
}
