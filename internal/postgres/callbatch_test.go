package postgres_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestCreateCallsAtOnce: calls that arrive together, inserted in
// statements of many, are stored as each would be alone: every new one
// once with its queued event; a repeat of an idempotent request answers
// the first call and stores nothing; the key reused for another request is
// refused; a call of a tenant that does not exist fails alone and the
// others of its statement are stored.
func TestCreateCallsAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dsn := testenv.Postgres(t)
	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	newCall := func(i int) *dialq.Call {
		line := int64(i)
		return &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_batch",
			ToNumber: fmt.Sprintf("+1555010%04d", i), Service: dialq.ServiceTwilio, Status: dialq.StatusQueued,
			Prompt: "Hello {{name}}", Metadata: map[string]any{"name": fmt.Sprintf("Ada %d", i), "quote": `"x"\,{}`},
			CreatedAt: time.Now(), AgentJoinTimeout: time.Duration(i) * time.Millisecond, KeepCallOnAgentLeave: i%2 == 0,
			ContactLine: &line}
	}
	first := newCall(0)
	first.IdempotencyKey, first.RequestHash = "same", []byte{1, 2, 3}
	stored, err := db.CreateCall(ctx, first)
	require.NoError(t, err)
	require.Equal(t, first.ID, stored.ID)

	const n = 300
	calls := make([]*dialq.Call, n)
	kind := make([]string, n)
	for i := range calls {
		c := newCall(i + 1)
		kind[i] = "new"
		switch {
		case i%25 == 3:
			c.IdempotencyKey, c.RequestHash, kind[i] = "same", []byte{1, 2, 3}, "repeat"
		case i == 100:
			c.IdempotencyKey, c.RequestHash, kind[i] = "same", []byte{9}, "conflict"
		case i%60 == 7:
			c.TenantID, kind[i] = uuid.New(), "no tenant"
		case i%5 == 0:
			c.IdempotencyKey, c.RequestHash = fmt.Sprintf("key-%d", i), []byte{byte(i), 0, 0xff}
		}
		calls[i] = c
	}
	got := make([]*dialq.Call, n)
	errs := make([]error, n)
	// All at once in two waves: a statement with a call of a missing tenant
	// fails whole and its calls go one by one, so the first wave has none
	// (statements of many store its calls) and the second has them among
	// new calls (stored all the same).
	second := func(i int) bool { return kind[i] == "no tenant" || (kind[i] == "new" && i%7 == 0) }
	burst := func(wave2 bool) {
		var wg sync.WaitGroup
		for i := range calls {
			if second(i) == wave2 {
				wg.Go(func() { got[i], errs[i] = db.CreateCall(ctx, calls[i]) })
			}
		}
		wg.Wait()
	}
	burst(false)
	require.Greater(t, db.LargestCallBatch(), 1, "some calls were inserted together")
	burst(true)

	want := 1 // first
	for i, c := range calls {
		switch kind[i] {
		case "new":
			require.NoError(t, errs[i], "call %d", i)
			require.Equal(t, c.ID, got[i].ID)
			want++
		case "repeat":
			require.NoError(t, errs[i], "call %d", i)
			require.Equal(t, first.ID, got[i].ID, "a repeat answers the first call")
		case "conflict":
			require.Equal(t, dialq.ECONFLICT, dialq.ErrorCode(errs[i]), "call %d: %v", i, errs[i])
		case "no tenant":
			require.Error(t, errs[i], "call %d", i)
			require.NotEqual(t, dialq.ECONFLICT, dialq.ErrorCode(errs[i]))
		}
	}
	count := func(q string) int {
		n, err := strconv.Atoi(testenv.SQL(t, dsn, q))
		require.NoError(t, err)
		return n
	}
	require.Equal(t, want, count(`SELECT count(*) FROM calls`))
	require.Equal(t, want, count(`SELECT count(*) FROM call_events WHERE kind = 'queued' AND status = 'queued'`))
	require.Equal(t, want, count(`SELECT count(DISTINCT call_id) FROM call_events`))
	// Every column as the one-row statement stores it.
	for i, c := range calls {
		if kind[i] != "new" {
			continue
		}
		back, err := db.FindCall(ctx, tenant, c.ID)
		require.NoError(t, err)
		require.Equal(t, c.ToNumber, back.ToNumber)
		require.Equal(t, c.Metadata, back.Metadata)
		require.Equal(t, c.Prompt, back.Prompt)
		require.Equal(t, c.AgentJoinTimeout, back.AgentJoinTimeout)
		require.Equal(t, c.KeepCallOnAgentLeave, back.KeepCallOnAgentLeave)
		require.Equal(t, *c.ContactLine, *back.ContactLine)
		require.Nil(t, back.CampaignID)
		require.Nil(t, back.DialBy)
		require.WithinDuration(t, c.CreatedAt, back.CreatedAt, time.Microsecond)
		if c.IdempotencyKey != "" {
			require.Equal(t, hex.EncodeToString(c.RequestHash), testenv.SQL(t, dsn, `SELECT encode(request_hash, 'hex') FROM calls WHERE id = $1`, c.ID))
			again, err := db.CreateCall(ctx, &dialq.Call{ID: uuid.New(), TenantID: tenant, IdempotencyKey: c.IdempotencyKey,
				RequestHash: c.RequestHash, Status: dialq.StatusQueued, CreatedAt: time.Now(), AssistantID: uuid.New(),
				TrunkID: "ST_batch", ToNumber: c.ToNumber, Service: dialq.ServiceTwilio})
			require.NoError(t, err)
			require.Equal(t, c.ID, again.ID, "its key finds it")
		}
	}
}
