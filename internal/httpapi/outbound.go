package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// handleOutbound is POST /call/outbound: validate, store the call, enqueue
// its dial task and wait a bounded time for the outcome.
func (s *Server) handleOutbound(c *gin.Context) {
	ctx := c.Request.Context()
	tenant := tenantOf(c)

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
	if err := req.Validate(mdBytes); err != nil {
		writeError(c, s.log, err)
		return
	}
	assistant, err := s.findAssistant(ctx, tenant, uuid.MustParse(req.AssistantID))
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	trunk, err := s.findTrunk(ctx, tenant, req.TrunkID)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	call, err := dialq.NewCall(tenant, req, assistant, trunk, s.now())
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	if key, ok := c.Request.Header["Idempotency-Key"]; ok {
		if err := dialq.CheckIdempotencyKey(key[0]); err != nil {
			writeError(c, s.log, err)
			return
		}
		call.IdempotencyKey, call.RequestHash = key[0], req.Fingerprint()
	}

	// Watch before the task can run, so no change is missed.
	var changes <-chan dialq.CallStatus
	if wait > 0 {
		w := s.watch.Watch(call.ID)
		defer func() { w.Close() }()
		changes = w.C
	}
	stored, err := s.store.CreateCall(ctx, call)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	if stored.ID != call.ID {
		// A repeat of an earlier request: answer with that call, placing none.
		c.Header("Idempotent-Replayed", "true")
		call = stored
		if wait > 0 && !done(call) {
			w := s.watch.Watch(call.ID)
			defer w.Close()
			changes = w.C
			call = s.awaitOutcome(ctx, call, changes, wait)
		}
		s.writeCall(c, call)
		return
	}
	if err := s.enqueue.EnqueueDial(ctx, call); err != nil {
		// The call is stored but not queued: fail it so it is never dialed
		// later by surprise, and tell the client it was not placed.
		f := dialq.Failure{Reason: dialq.ReasonInternal, Message: "the call could not be queued: " + dialq.ErrorMessage(err)}
		if _, ferr := s.store.RecordFailed(context.WithoutCancel(ctx), call.ID, f, s.now()); ferr != nil {
			s.log.Error("record failure of unqueued call", "call_id", call.ID, "err", ferr)
		}
		writeError(c, s.log, err)
		return
	}
	s.log.Debug("call queued", "call_id", call.ID, "wait", wait)

	if wait > 0 {
		call = s.awaitOutcome(ctx, call, changes, wait)
	}
	s.writeCall(c, call)
}

// waitParam reads ?wait=<seconds>.
func (s *Server) waitParam(c *gin.Context) (time.Duration, error) {
	q, ok := c.GetQuery("wait")
	if !ok {
		return s.cfg.DefaultWait, nil
	}
	return parseWait(q, s.cfg.MaxWait)
}

// done reports whether a waiting request can answer with call: placed
// (answered; for the Exotel bridge, the INVITE is out) or failed.
func done(call *dialq.Call) bool { return call.Placed() || call.Status == dialq.StatusFailed }

// awaitOutcome waits until the call has an outcome, wait passes or the
// client goes away, and returns the call as last read. Notifications wake
// it; a periodic re-read covers any that were lost.
func (s *Server) awaitOutcome(ctx context.Context, call *dialq.Call, changes <-chan dialq.CallStatus, wait time.Duration) *dialq.Call {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	reread := func() bool {
		fresh, err := s.store.FindCall(context.WithoutCancel(ctx), call.TenantID, call.ID)
		if err != nil {
			s.log.Warn("re-read waited call", "call_id", call.ID, "err", err)
			return false
		}
		call = fresh
		return done(fresh)
	}
	for {
		select {
		case st := <-changes:
			// A bridged call is placed while still dialing (INVITE out).
			if (st.Final() || call.Service == dialq.ServiceExotel && st.Live()) && reread() {
				return call
			}
		case <-poll.C:
			if reread() {
				return call
			}
		case <-deadline.C:
			reread()
			return call
		case <-ctx.Done():
			return call
		}
	}
}

// writeCall answers with the call as it stands: 200 once answered, the
// failure's status once failed, 202 while still in progress.
func (s *Server) writeCall(c *gin.Context, call *dialq.Call) {
	switch {
	case call.Placed():
		msg := "Outbound call triggered successfully"
		if call.Service == dialq.ServiceExotel {
			msg += " via Exotel bridge"
		}
		c.JSON(http.StatusOK, successBody{Success: true, Message: msg, Data: outcomeOf(call)})
	case call.Status == dialq.StatusFailed:
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

func (s *Server) findAssistant(ctx context.Context, tenant, id uuid.UUID) (*dialq.Assistant, error) {
	k := tenantKey{tenant, id.String()}
	if a, ok := s.assist.get(k); ok {
		return a, nil
	}
	a, err := s.store.FindAssistant(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	s.assist.put(k, a)
	return a, nil
}

func (s *Server) findTrunk(ctx context.Context, tenant uuid.UUID, id string) (*dialq.Trunk, error) {
	k := tenantKey{tenant, id}
	if t, ok := s.trunks.get(k); ok {
		return t, nil
	}
	t, err := s.store.FindTrunk(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	s.trunks.put(k, t)
	return t, nil
}
