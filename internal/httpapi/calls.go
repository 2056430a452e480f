package httpapi

import (
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// callView is a call as GET /call/{id} shows it. GET /calls shows the same
// view without Events, so that a page is one query and not one per call.
type callView struct {
	CallID        uuid.UUID           `json:"call_id"`
	Status        dialq.CallStatus    `json:"status"`
	FailureReason dialq.FailureReason `json:"failure_reason,omitempty"`
	SIPStatusCode int                 `json:"sip_status_code,omitempty"`
	SIPStatus     string              `json:"sip_status,omitempty"`
	LastError     string              `json:"last_error,omitempty"`
	Attempts      int                 `json:"attempts"`

	AssistantID uuid.UUID         `json:"assistant_id"`
	TrunkID     string            `json:"trunk_id"`
	ToNumber    string            `json:"to_number"`
	CallService dialq.CallService `json:"call_service"`
	Metadata    map[string]any    `json:"metadata"`
	// DialOptions are the dial options the call was placed with, when it
	// was given any (the caller ID in the trunk's form).
	DialOptions *dialq.DialOptions `json:"dial_options,omitempty"`

	RoomName      string               `json:"room_name,omitempty"`
	AgentDispatch *dispatchView        `json:"agent_dispatch,omitempty"`
	Participant   *callParticipantView `json:"participant,omitempty"`
	EndReason     string               `json:"end_reason,omitempty"`
	EndedBy       dialq.EndedBy        `json:"ended_by,omitempty"`
	// DurationSeconds is how long an answered call that ended was
	// connected, to the millisecond.
	DurationSeconds *float64 `json:"duration_seconds,omitempty"`

	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	DialedAt   *time.Time `json:"dialed_at,omitempty"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	// Report is the agent's latest report (POST /call/{id}/report).
	Report *dialq.Report `json:"report,omitempty"`
	// CampaignID and ContactLine name the campaign contact a campaign's
	// call dials; left out for a call asked for through the API.
	CampaignID  *uuid.UUID `json:"campaign_id,omitempty"`
	ContactLine *int64     `json:"contact_line,omitempty"`
	// Events is left out when nil: a view built without the timeline (one
	// query per call) says nothing rather than "no events". A call's own view
	// sets it, to [] when the call has none yet.
	Events []dialq.CallEvent `json:"events,omitzero"`
}

type callParticipantView struct {
	SID       string `json:"sid,omitempty"`
	Identity  string `json:"identity"`
	SIPCallID string `json:"sip_call_id,omitempty"`
}

// handleGetCall is GET /call/{id}: the stored call and its timeline.
func (s *Server) handleGetCall(c *gin.Context) {
	id, err := callIDParam(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	call, err := s.calls.Get(c.Request.Context(), tenantOf(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	s.writeCallView(c, http.StatusOK, "", call)
}

// writeCallView answers with the call and its timeline.
func (s *Server) writeCallView(c *gin.Context, status int, message string, call *dialq.Call) {
	events, err := s.calls.Events(c.Request.Context(), call)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	v := viewOf(call)
	v.Events = nonNil(events)
	body := gin.H{"success": true, "data": v}
	if message != "" {
		body = gin.H{"success": true, "message": message, "data": v}
	}
	c.JSON(status, body)
}

// viewOf is the call's view without its timeline.
func viewOf(call *dialq.Call) callView {
	v := callView{
		CallID: call.ID, Status: call.Status, FailureReason: call.FailureReason,
		SIPStatusCode: call.SIPStatusCode, SIPStatus: call.SIPStatus, LastError: call.LastError,
		Attempts: call.Attempts, AssistantID: call.AssistantID, TrunkID: call.TrunkID,
		ToNumber: call.ToNumber, CallService: call.Service, Metadata: call.Metadata,
		RoomName: call.RoomName, EndReason: call.EndReason, CreatedAt: call.CreatedAt, UpdatedAt: call.UpdatedAt,
		DialedAt: call.DialedAt, AnsweredAt: call.AnsweredAt, EndedAt: call.EndedAt, Report: call.Report,
		CampaignID: call.CampaignID, ContactLine: call.ContactLine,
	}
	v.EndedBy = call.EndedBy
	if !call.Options.IsZero() {
		o := call.Options
		v.DialOptions = &o
	}
	if call.AnsweredAt != nil && call.EndedAt != nil {
		d := math.Round(call.Duration().Seconds()*1000) / 1000
		v.DurationSeconds = &d
	}
	if call.DispatchID != "" {
		v.AgentDispatch = &dispatchView{ID: call.DispatchID, State: call.DispatchState}
	}
	if call.ParticipantIdentity != "" {
		v.Participant = &callParticipantView{SID: call.ParticipantSID, Identity: call.ParticipantIdentity, SIPCallID: call.SIPCallID}
	}
	return v
}

// handleCallEvents is GET /call/{id}/events: the timeline GET /call/{id}
// shows, alone; with ?stream=true, as Server-Sent Events that follow the
// call to its end (streamEvents).
func (s *Server) handleCallEvents(c *gin.Context) {
	id, err := callIDParam(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	stream, err := streamParam(c.Request.URL.RawQuery)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var after int64
	if stream {
		if after, err = lastEventID(c.Request); err != nil {
			writeError(c, s.log, err)
			return
		}
	}
	call, err := s.calls.Get(c.Request.Context(), tenantOf(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	if stream {
		s.streamEvents(c, call, after)
		return
	}
	events, err := s.calls.Events(c.Request.Context(), call)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": nonNil(events)})
}

// callIDParam reads the {id} of a /call/{id} path by the rule of every id
// the API takes (dialq.ParseUUID). Returns EINVALID naming call_id.
func callIDParam(c *gin.Context) (uuid.UUID, error) {
	id, err := dialq.ParseUUID(c.Param("id"))
	if err != nil {
		return uuid.Nil, dialq.InvalidField("call_id", "must be a UUID")
	}
	return id, nil
}

// nonNil makes an empty list answer [] rather than null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// handleHangup is POST /call/{id}/hangup: end a live call placed through
// the Exotel bridge (calls.Service.Hangup). The answer is 200 with the ended
// call, or 202 if the end was not seen in time.
func (s *Server) handleHangup(c *gin.Context) {
	id, err := callIDParam(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	call, ended, err := s.calls.Hangup(c.Request.Context(), tenantOf(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	if !ended {
		c.Header("Location", "/call/"+id.String())
		s.writeCallView(c, http.StatusAccepted, "Hang-up requested; the call has not ended yet.", call)
		return
	}
	s.writeCallView(c, http.StatusOK, "Call hung up.", call)
}
