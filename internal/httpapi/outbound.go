package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/dialq"
)

// handleOutbound is POST /call/outbound: decode, place the call through the
// calls service, answer with how far it got.
func (s *Server) handleOutbound(c *gin.Context) {
	wait, err := s.waitParam(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	body, err := readJSONBody(c.Request)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	req, mdBytes, err := decodeOutbound(body)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	r := calls.PlaceRequest{TenantID: tenantOf(c), Request: req, MetadataBytes: mdBytes, Wait: wait}
	if key, ok := c.Request.Header["Idempotency-Key"]; ok {
		r.IdempotencyKey = &key[0]
	}
	placed, err := s.calls.Place(c.Request.Context(), r)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	if placed.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	s.writeCall(c, placed.Call)
}

// waitParam reads ?wait=<seconds>.
func (s *Server) waitParam(c *gin.Context) (time.Duration, error) {
	q, ok := c.GetQuery("wait")
	if !ok {
		return s.cfg.DefaultWait, nil
	}
	return parseWait(q, s.cfg.MaxWait)
}

// writeCall answers with the call as it stands: 200 once answered, the
// failure's status once over without an answer (busy, failed, ...), 202
// while still in progress.
func (s *Server) writeCall(c *gin.Context, call *dialq.Call) {
	switch {
	case call.Placed():
		msg := "Outbound call triggered successfully"
		if call.Service == dialq.ServiceExotel {
			msg += " via Exotel bridge"
		}
		c.JSON(http.StatusOK, successBody{Success: true, Message: msg, Data: outcomeOf(call)})
	case call.Failed():
		code := call.FailureReason.ErrorCode()
		c.JSON(HTTPStatus(code), errorBody{
			Message: failureMessage(call),
			Error: errorDetail{Code: code, Reason: call.FailureReason,
				SIPStatusCode: call.SIPStatusCode, SIPStatus: call.SIPStatus},
			Data: outcomeOf(call),
		})
	default:
		loc := "/call/" + call.ID.String()
		c.Header("Location", loc)
		c.JSON(http.StatusAccepted, successBody{
			Success: true,
			Message: "Call accepted and still in progress; GET " + loc + " for its outcome.",
			Data:    outcomeOf(call),
		})
	}
}

func failureMessage(call *dialq.Call) string {
	msg := "The call failed: " + call.LastError
	if call.LastError == "" {
		msg = "The call failed: " + string(call.FailureReason)
	}
	return msg + "."
}

// successBody is the contract's response, fields in the contract's order.
type successBody struct {
	Success bool    `json:"success"`
	Message string  `json:"message"`
	Data    outcome `json:"data"`
}

// outcome is the contract's data object (room_name, agent_dispatch,
// participant) plus call_id and status.
type outcome struct {
	RoomName      string           `json:"room_name,omitempty"`
	AgentDispatch *dispatchView    `json:"agent_dispatch,omitempty"`
	Participant   *participantView `json:"participant,omitempty"`
	CallID        uuid.UUID        `json:"call_id"`
	Status        dialq.CallStatus `json:"status"`
}

type dispatchView struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

type participantView struct {
	SID      string `json:"sid"`
	Identity string `json:"identity"`
}

func outcomeOf(call *dialq.Call) outcome {
	o := outcome{RoomName: call.RoomName, CallID: call.ID, Status: call.Status}
	if call.DispatchID != "" {
		o.AgentDispatch = &dispatchView{ID: call.DispatchID, State: call.DispatchState}
	}
	if call.ParticipantSID != "" {
		o.Participant = &participantView{SID: call.ParticipantSID, Identity: call.ParticipantIdentity}
	}
	return o
}
