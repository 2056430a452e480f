package dialq

import (
	"errors"

	"github.com/google/uuid"
)

// ErrBadSignature marks a webhook whose signature does not verify: its
// token is missing, signed with another secret or expired, or its body is
// not the one signed.
var ErrBadSignature = errors.New("the webhook's signature does not verify")

// RoomEventKind is what LiveKit reported of a call's room.
type RoomEventKind string

// The room events that end LiveKit SIP calls.
const (
	// RoomParticipantLeft: a participant (the phone, the agent) left.
	RoomParticipantLeft RoomEventKind = "participant_left"
	// RoomFinished: the room closed; everyone in it is gone.
	RoomFinished RoomEventKind = "room_finished"
)

// RoomEvent is one of LiveKit's webhooks about a call's room, verified and
// read into dialq's terms (package livekit).
type RoomEvent struct {
	Kind RoomEventKind
	// ID is LiveKit's id of the event.
	ID string
	// Room is the room's name; CallID is the call its metadata names (Nil
	// for a room dialq did not make).
	Room   string
	CallID uuid.UUID
	// Identity is the participant's, for RoomParticipantLeft; Agent is set
	// when it is an agent.
	Identity string
	Agent    bool
	// SIPCallStatus is the participant's sip.callStatus attribute (active,
	// hangup, ...) and DisconnectReason LiveKit's reason for its leaving
	// (CLIENT_INITIATED, PARTICIPANT_REMOVED, ...).
	SIPCallStatus    string
	DisconnectReason string
}

// ReasonAgentNeverJoined: the call was answered but no agent joined its
// room in time; dialq hung up.
const ReasonAgentNeverJoined FailureReason = "agent_never_joined"

// ReasonAgentLeft: the agent of an answered call whose assistant keeps
// calls when the agent leaves (KeepCallOnAgentLeave) left the room, and no
// agent was back in it within the agent grace; dialq hung up. (An agent of
// any other assistant hangs up by leaving: the call completes, ended by the
// agent.)
const ReasonAgentLeft FailureReason = "agent_left"
