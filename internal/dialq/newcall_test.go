package dialq_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

func TestNewCall(t *testing.T) {
	t.Parallel()
	tenant := uuid.New()
	a := &dialq.Assistant{ID: uuid.New(), TenantID: tenant, Prompt: "Call {{name}}", StartInstruction: "Hi {{name|you}}", AgentName: "agent-a"}
	tw := &dialq.Trunk{ID: "ST_tw", TenantID: tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_lk"}
	req := validRequest()
	req.Metadata = map[string]any{"name": "Ann"}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

	c, err := dialq.NewCall(tenant, &req, a, tw, now)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusQueued, c.Status)
	require.Equal(t, "Call Ann", c.Prompt)
	require.Equal(t, "Hi Ann", c.StartInstruction)
	require.Equal(t, "agent-a", c.AgentName)
	require.Equal(t, "ST_lk", c.LiveKitTrunkID)
	require.Equal(t, now, c.CreatedAt)
	require.Equal(t, a.ID.String()+"_"+c.ID.String()[24:], dialq.RoomNameFor(c))

	// calls created in the same millisecond get rooms of their own
	rooms := map[string]bool{}
	for range 1000 {
		c2, err := dialq.NewCall(tenant, &req, a, tw, now)
		require.NoError(t, err)
		rooms[dialq.RoomNameFor(c2)] = true
	}
	require.Len(t, rooms, 1000)

	var md dialq.DispatchMetadata
	access := dialq.ReportAccess{URL: dialq.ReportURL("http://127.0.0.1:58080/", c.ID), Token: "dqr_x"}
	require.NoError(t, json.Unmarshal([]byte(dialq.DispatchMetadataFor(c, access)), &md))
	require.Equal(t, c.ID.String(), md.CallID)
	require.Equal(t, "http://127.0.0.1:58080/call/"+c.ID.String()+"/report", md.ReportURL)
	require.Equal(t, "dqr_x", md.ReportToken)
	require.Equal(t, dialq.DefaultAgentJoinTimeout, c.AgentJoinTimeout, "assistants wait for their agent by default")
	require.False(t, c.KeepCallOnAgentLeave, "an agent hangs up by leaving by default")
	keep := *a
	keep.KeepCallOnAgentLeave = true
	kc, err := dialq.NewCall(tenant, &req, &keep, tw, now)
	require.NoError(t, err)
	require.True(t, kc.KeepCallOnAgentLeave, "fixed on the call from its assistant")
	require.Equal(t, "Call Ann", md.Prompt)
	require.Equal(t, "+15550200000", md.ToNumber)
	require.Equal(t, "Ann", md.Metadata["name"])

	// provider mismatch
	req.CallService = "exotel"
	_, err = dialq.NewCall(tenant, &req, a, tw, now)
	require.Equal(t, "call_service", dialq.ErrorFields(err)[0].Field)
	require.Contains(t, dialq.ErrorFields(err)[0].Message, "twilio trunk")

	// missing placeholder
	req.CallService, req.Metadata = "twilio", nil
	_, err = dialq.NewCall(tenant, &req, a, tw, now)
	require.Contains(t, dialq.ErrorMessage(err), "missing keys")

	// exotel rooms are named for the number
	ex := &dialq.Trunk{ID: "ST_ex", TenantID: tenant, Provider: dialq.ServiceExotel}
	req.CallService, req.Metadata, req.ToNumber = "exotel", map[string]any{"name": "Ann"}, "+918044319240"
	c, err = dialq.NewCall(tenant, &req, a, ex, now)
	require.NoError(t, err)
	require.Regexp(t, `^exotel-\+918044319240-[0-9a-f]{12}$`, dialq.RoomNameFor(c))
}
