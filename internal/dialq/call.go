// Package dialq holds dialq's domain: calls, assistants, trunks and tenants,
// the rules a call request must follow, and the interfaces the adapters
// (Postgres, Redis queue, LiveKit, HTTP) implement or use. It imports none of
// them.
package dialq

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
)

// CallService is the telephony provider a call goes out through.
type CallService string

// The providers dialq dials through.
const (
	// ServiceTwilio dials through a LiveKit SIP outbound trunk.
	ServiceTwilio CallService = "twilio"
	// ServiceExotel dials through dialq's own Exotel SIP bridge.
	ServiceExotel CallService = "exotel"
)

// Valid reports whether s is a provider dialq knows.
func (s CallService) Valid() bool { return s == ServiceTwilio || s == ServiceExotel }

// FailureReason says why a call failed, in words a caller can branch on.
type FailureReason string

// Failure reasons. The first four are the callee's answer; the rest are
// failures of dialq or of what it depends on.
const (
	ReasonBusy        FailureReason = "busy"          // SIP 486/600
	ReasonNoAnswer    FailureReason = "no_answer"     // SIP 480/408 or ringing past the ring time
	ReasonRejected    FailureReason = "rejected"      // SIP 603
	ReasonUnreachable FailureReason = "unreachable"   // SIP 404/484/410: the number does not exist
	ReasonCarrier     FailureReason = "carrier_error" // SIP 5xx and other failures of the trunk
	ReasonTrunk       FailureReason = "trunk_error"   // the LiveKit trunk is missing or refused the request
	ReasonLiveKit     FailureReason = "livekit_unavailable"
	ReasonBridge      FailureReason = "bridge_unavailable"
	ReasonInternal    FailureReason = "internal_error"
	// Bridged calls only: the worker holding the session shut down before
	// the call ended, or died (no worker vouched for the call in time), or
	// the phone's audio stopped after the answer.
	ReasonWorkerShutdown FailureReason = "worker_shutdown"
	ReasonWorkerLost     FailureReason = "worker_lost"
	ReasonMediaTimeout   FailureReason = "media_timeout"
	// ReasonCanceled: hung up through the API before an answer.
	ReasonCanceled FailureReason = "canceled"
	// ReasonAgentUnavailable: the dispatched agent never joined the room,
	// so nobody was rung (or, answered, the phone was hung up).
	ReasonAgentUnavailable FailureReason = "agent_unavailable"
)

// ErrorCode returns the dialq error code a failed call with this reason is
// reported with.
func (r FailureReason) ErrorCode() string {
	switch r {
	case ReasonBusy, ReasonNoAnswer, ReasonRejected, ReasonUnreachable, ReasonCanceled:
		return ECALLFAILED
	case ReasonCarrier, ReasonTrunk:
		return EUPSTREAM
	case ReasonLiveKit, ReasonBridge, ReasonWorkerShutdown, ReasonWorkerLost, ReasonAgentUnavailable:
		return EUNAVAILABLE
	case ReasonMediaTimeout:
		return EUPSTREAM
	default:
		return EINTERNAL
	}
}

// ErrUnreadableCall marks a stored call whose row the code cannot decode
// (metadata accepted before a rule that now refuses it). Reading it again
// cannot succeed, so a background job that meets one fails the call and
// goes on rather than retrying it or stopping at it.
var ErrUnreadableCall = errors.New("the stored call cannot be read")

// Call is one outbound call: what was asked, and every step the worker has
// recorded so far. Postgres holds the truth; this is its in-memory form.
type Call struct {
	ID          uuid.UUID      `db:"id"`
	TenantID    uuid.UUID      `db:"tenant_id"`
	AssistantID uuid.UUID      `db:"assistant_id"`
	TrunkID     string         `db:"trunk_id"`
	ToNumber    string         `db:"to_number"`
	Service     CallService    `db:"call_service"`
	Metadata    map[string]any `db:"-"`

	// IdempotencyKey, when the client sent one, makes a repeat of the same
	// request return this call instead of placing another. RequestHash is
	// the fingerprint of the request it was first sent with.
	IdempotencyKey string `db:"-"`
	RequestHash    []byte `db:"-"`

	// What the worker needs, fixed when the call was accepted so a later edit
	// of the assistant or trunk does not change a call already queued.
	Prompt           string `db:"prompt"`
	StartInstruction string `db:"start_instruction"`
	AgentName        string `db:"agent_name"`
	LiveKitTrunkID   string `db:"livekit_trunk_id"`
	// AgentJoinTimeout is how long the worker waits for the agent to join
	// the room before it dials; zero dials without waiting (the assistant's
	// DialWithoutAgent, and calls accepted before the wait existed).
	AgentJoinTimeout time.Duration `db:"-"`
	// Options are the call's own dial settings as accepted (the caller ID
	// in the trunk's form); those left out take the deployment's defaults
	// when the call is dialed.
	Options DialOptions `db:"-"`
	// KeepCallOnAgentLeave is the assistant's: when set, the agent leaving
	// the room does not end the call (see Assistant.KeepCallOnAgentLeave).
	KeepCallOnAgentLeave bool `db:"-"`

	Status        CallStatus    `db:"status"`
	FailureReason FailureReason `db:"failure_reason"`
	SIPStatusCode int           `db:"sip_status_code"`
	SIPStatus     string        `db:"sip_status"`
	LastError     string        `db:"last_error"`
	Attempts      int           `db:"attempts"`

	RoomName            string `db:"room_name"`
	DispatchID          string `db:"dispatch_id"`
	DispatchState       string `db:"dispatch_state"`
	ParticipantSID      string `db:"participant_sid"`
	ParticipantIdentity string `db:"participant_identity"`
	SIPCallID           string `db:"sip_call_id"`
	// EndReason says in words how the call ended ("phone hung up", "the
	// callee is busy (SIP 486 Busy Here)"), EndedBy who ended it; both are
	// set on every terminal call.
	EndReason string  `db:"end_reason"`
	EndedBy   EndedBy `db:"ended_by"`
	// HangupReason is set once a hang-up was asked for, HangupBy in whose
	// name (the API's, the agent's by leaving): the end that the phone's
	// leaving then records.
	HangupReason string  `db:"hangup_reason"`
	HangupBy     EndedBy `db:"hangup_by"`

	CreatedAt  time.Time  `db:"created_at"`
	UpdatedAt  time.Time  `db:"updated_at"`
	DialedAt   *time.Time `db:"dialed_at"`
	AnsweredAt *time.Time `db:"answered_at"`
	EndedAt    *time.Time `db:"ended_at"`
	// AgentLeftAt is when an agent last left the call's room; nil if none
	// has. The no-agent watchdog counts its grace from it or from the
	// answer, whichever is later.
	AgentLeftAt *time.Time `db:"agent_left_at"`

	// Report is the agent's latest report of the call; nil until it sends one.
	Report *Report `db:"-"`

	// CampaignID and ContactLine name the campaign contact this call
	// dials; nil for a call asked for through the API.
	CampaignID  *uuid.UUID `db:"campaign_id"`
	ContactLine *int64     `db:"contact_line"`
	// DialBy is when the contact's calling window closes: a call not dialed
	// by then is not dialed at all (the campaign's dial check). Nil: any time.
	DialBy *time.Time `db:"dial_by"`
}

// Placed reports whether the call went out as far as a synchronous request
// waits for: answered (or already over) for LiveKit SIP trunks; for the Exotel
// bridge, as soon as the INVITE is out (the bridge follows the rest), or
// answered when the call asked to wait until then (wait_until: answered).
func (c *Call) Placed() bool {
	switch c.Status {
	case StatusAnswered, StatusCompleted:
		return true
	case StatusDialing, StatusRinging:
		return c.Service == ServiceExotel && c.SIPCallID != "" && c.Options.WaitUntil != WaitAnswered
	}
	return false
}

// OutlastedMaxDuration reports whether c has its own max_duration, which
// the line enforces (LiveKit's SIP service hangs up then), and has been
// answered that long at now, within a second (the SIP service's clock and
// the news's way here): a phone that leaves then was hung up by dialq.
func (c *Call) OutlastedMaxDuration(now time.Time) bool {
	if c.Options.MaxDuration == nil || c.AnsweredAt == nil {
		return false
	}
	return now.Sub(*c.AnsweredAt) >= c.Options.MaxCall(0)-time.Second
}

// PhoneIdentity is the identity of c's phone in its room: the one recorded
// when it was dialed, else the one it will be dialed with.
func (c *Call) PhoneIdentity() string {
	if c.ParticipantIdentity != "" {
		return c.ParticipantIdentity
	}
	return ParticipantIdentityFor(c.ToNumber)
}

// ParticipantIdentityFor is the identity the phone joins the room with.
func ParticipantIdentityFor(toNumber string) string { return "phone-" + toNumber }

// RoomNameFor derives the call's room name from its id, so every retry of
// the dial task names the same room: `<assistant_id>_<suffix>` for LiveKit
// SIP calls and `exotel-<to_number>-<suffix>` for the Exotel bridge. The
// suffix is the id's last 48 bits, which are random in a UUIDv7 (its first 48
// are the creation millisecond, shared by calls created together).
func RoomNameFor(c *Call) string {
	suffix := c.ID.String()[24:]
	if c.Service == ServiceExotel {
		return "exotel-" + c.ToNumber + "-" + suffix
	}
	return c.AssistantID.String() + "_" + suffix
}

// DispatchMetadata is the JSON the agent receives with its job.
type DispatchMetadata struct {
	CallID           string         `json:"call_id"`
	Prompt           string         `json:"prompt"`
	StartInstruction string         `json:"start_instruction"`
	Metadata         map[string]any `json:"metadata"`
	ToNumber         string         `json:"to_number"`
	CallService      CallService    `json:"call_service"`
	AssistantID      string         `json:"assistant_id"`
	// ReportURL and ReportToken: the agent posts its report of the call
	// there, with Authorization: Bearer <report_token> (docs/agents.md).
	ReportURL   string `json:"report_url,omitempty"`
	ReportToken string `json:"report_token,omitempty"`
}

// DispatchMetadataFor builds what the agent receives for c, with where and
// how it reports back.
func DispatchMetadataFor(c *Call, r ReportAccess) string {
	md := c.Metadata
	if md == nil {
		md = map[string]any{}
	}
	b, _ := json.Marshal(DispatchMetadata{
		CallID:           c.ID.String(),
		Prompt:           c.Prompt,
		StartInstruction: c.StartInstruction,
		Metadata:         md,
		ToNumber:         c.ToNumber,
		CallService:      c.Service,
		AssistantID:      c.AssistantID.String(),
		ReportURL:        r.URL,
		ReportToken:      r.Token,
	})
	return string(b)
}
