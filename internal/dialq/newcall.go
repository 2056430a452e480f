package dialq

import (
	"time"

	"github.com/google/uuid"
)

// NewCall applies the call rules to a validated request and the tenant's
// assistant and trunk, and returns the call to store, status queued.
// Returns EINVALID if the trunk's provider is not the requested call_service,
// the caller_id is not one of the trunk's numbers or the metadata leaves a
// placeholder unfilled.
func NewCall(tenantID uuid.UUID, req *OutboundRequest, a *Assistant, t *Trunk, now time.Time) (*Call, error) {
	if string(t.Provider) != req.CallService {
		return nil, InvalidField("call_service",
			"is %q but trunk %s is a %s trunk", req.CallService, t.ID, t.Provider)
	}
	if t.Provider == ServiceTwilio && t.LiveKitTrunkID == "" {
		return nil, InvalidField("trunk_id", "trunk %s has no LiveKit outbound trunk configured", t.ID)
	}
	opts := req.DialOptions
	callerID, err := opts.CallerIDFor(t)
	if err != nil {
		return nil, err
	}
	opts.CallerID = callerID
	rendered, err := RenderTemplates(req.Metadata, a.Prompt, a.StartInstruction)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	return &Call{
		ID:               id,
		TenantID:         tenantID,
		AssistantID:      a.ID,
		TrunkID:          t.ID,
		ToNumber:         req.ToNumber,
		Service:          t.Provider,
		Metadata:         req.Metadata,
		Prompt:           rendered[0],
		StartInstruction: rendered[1],
		AgentName:        a.AgentName,
		LiveKitTrunkID:   t.LiveKitTrunkID,
		AgentJoinTimeout: a.JoinTimeout(),
		Options:          opts,
		Status:           StatusQueued,
		CreatedAt:        now,
		UpdatedAt:        now,

		KeepCallOnAgentLeave: a.KeepCallOnAgentLeave,
	}, nil
}
