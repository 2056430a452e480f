package calls_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestListPagesAndFilters places calls through the service and reads them
// back a page at a time: newest first, every call once across the pages,
// filters applied, another tenant's calls never listed.
func TestListPagesAndFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := testenv.Postgres(t)
	opts := queue.DefaultDialOptions()
	opts.Queue = testenv.Name("q_")
	svc := calls.New(db, queue.NewEnqueuer(asynq.NewClientFromRedisClient(testenv.Redis(t)), opts), nil, nil,
		testenv.Logger(t), calls.Config{})

	tenant, other := uuid.New(), uuid.New()
	assistant := uuid.New()
	for i, tn := range []uuid.UUID{tenant, other} {
		require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tn, Name: "t"}))
		require.NoError(t, db.SaveTrunk(ctx, &dialq.Trunk{ID: fmt.Sprintf("ST_t%d", i), TenantID: tn, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_lk"}))
	}
	require.NoError(t, db.SaveAssistant(ctx, &dialq.Assistant{ID: assistant, TenantID: tenant, Name: "a", AgentName: "a"}))
	otherAssistant := uuid.New()
	require.NoError(t, db.SaveAssistant(ctx, &dialq.Assistant{ID: otherAssistant, TenantID: other, Name: "a", AgentName: "a"}))
	place := func(tn, a uuid.UUID, trunk, number string) *dialq.Call {
		p, err := svc.Place(ctx, calls.PlaceRequest{TenantID: tn, Request: &dialq.OutboundRequest{
			AssistantID: a.String(), TrunkID: trunk, ToNumber: number, CallService: "twilio"}})
		require.NoError(t, err)
		return p.Call
	}
	var placed []uuid.UUID
	for i := range 5 {
		placed = append(placed, place(tenant, assistant, "ST_t0", fmt.Sprintf("+1555020000%d", i%2)).ID)
		time.Sleep(2 * time.Millisecond) // distinct created_at, so "newest first" is checkable
	}
	place(other, otherAssistant, "ST_t1", "+15550200000")

	var got []uuid.UUID
	f := dialq.CallFilter{Limit: 2}
	for range 5 {
		page, err := svc.List(ctx, tenant, f)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Calls), 2)
		for _, c := range page.Calls {
			require.Equal(t, tenant, c.TenantID)
			got = append(got, c.ID)
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	require.Equal(t, []uuid.UUID{placed[4], placed[3], placed[2], placed[1], placed[0]}, got)

	page, err := svc.List(ctx, tenant, dialq.CallFilter{ToNumber: "+15550200001"})
	require.NoError(t, err)
	require.Len(t, page.Calls, 2)
	require.Empty(t, page.Next)
	page, err = svc.List(ctx, tenant, dialq.CallFilter{Status: dialq.StatusAnswered})
	require.NoError(t, err)
	require.Empty(t, page.Calls)

	_, err = svc.List(ctx, tenant, dialq.CallFilter{Limit: 501, Status: "bogus", After: "x"})
	require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err))
	var fields []string
	for _, fe := range dialq.ErrorFields(err) {
		fields = append(fields, fe.Field)
	}
	require.Equal(t, []string{"status", "limit", "cursor"}, fields)
}
