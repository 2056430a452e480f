package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// callView is a call as GET /call/{id} shows it.
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

	RoomName      string               `json:"room_name,omitempty"`
	AgentDispatch *dispatchView        `json:"agent_dispatch,omitempty"`
	Participant   *callParticipantView `json:"participant,omitempty"`

	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	DialedAt   *time.Time        `json:"dialed_at,omitempty"`
	AnsweredAt *time.Time        `json:"answered_at,omitempty"`
	EndedAt    *time.Time        `json:"ended_at,omitempty"`
	Events     []dialq.CallEvent `json:"events"`
}

type callParticipantView struct {
	SID       string `json:"sid,omitempty"`
	Identity  string `json:"identity"`
	SIPCallID string `json:"sip_call_id,omitempty"`
}

// handleGetCall is GET /call/{id}: the stored call and its timeline.
func (s *Server) handleGetCall(c *gin.Context) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		writeError(c, s.log, dialq.InvalidField("call_id", "must be a UUID"))
		return
	}
	call, err := s.store.FindCall(c.Request.Context(), tenantOf(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	events, err := s.store.Events(c.Request.Context(), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	v := callView{
		CallID: call.ID, Status: call.Status, FailureReason: call.FailureReason,
		SIPStatusCode: call.SIPStatusCode, SIPStatus: call.SIPStatus, LastError: call.LastError,
		Attempts: call.Attempts, AssistantID: call.AssistantID, TrunkID: call.TrunkID,
		ToNumber: call.ToNumber, CallService: call.Service, Metadata: call.Metadata,
		RoomName: call.RoomName, CreatedAt: call.CreatedAt, UpdatedAt: call.UpdatedAt,
		DialedAt: call.DialedAt, AnsweredAt: call.AnsweredAt, EndedAt: call.EndedAt, Events: events,
	}
	if call.DispatchID != "" {
		v.AgentDispatch = &dispatchView{ID: call.DispatchID, State: call.DispatchState}
	}
	if call.ParticipantIdentity != "" {
		v.Participant = &callParticipantView{SID: call.ParticipantSID, Identity: call.ParticipantIdentity, SIPCallID: call.SIPCallID}
	}
	if v.Events == nil {
		v.Events = []dialq.CallEvent{}
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": v})
}
