package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestContactUploadChecksInSQL: the staged rows are checked in order
// (placeholders, the do-not-call list, then duplicates among what is left,
// the first valid row of a number kept), counted, listed by line; Commit
// stores the campaign with its valid rows, the default zone filling the
// empty ones.
func TestContactUploadChecksInSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	other := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: other, Name: "o"}))
	_, err := db.Suppress(ctx, tenant, []string{"+15550700009"}, "asked")
	require.NoError(t, err)
	_, err = db.Suppress(ctx, other, []string{"+15550700001"}, "another tenant's list")
	require.NoError(t, err)

	up, err := db.BeginContactUpload(ctx)
	require.NoError(t, err)
	defer up.Rollback()
	rows := []dialq.StagedContact{
		{Line: 2, ToNumber: "+15550700002", Metadata: []byte(`{"name": "no company"}`)}, // missing company
		{Line: 3, ToNumber: "+15550700002", Metadata: []byte(`{"name": "b", "company": "c"}`), Timezone: "Europe/Paris"},
		{Line: 4, ToNumber: "+15550700002", Metadata: []byte(`{"name": "b", "company": "c"}`)}, // duplicate of 3
		{Line: 5, ToNumber: "+15550700009", Metadata: []byte(`{"name": "b", "company": "c"}`)}, // suppressed
		{Line: 6, ToNumber: "+15550700001", Metadata: []byte(`{"name": "b", "company": "c"}`)}, // suppressed by the other only
		{Line: 7, Problem: &dialq.ContactProblem{Line: 7, Field: "csv", Reason: "bare quote", Kind: dialq.ProblemCSV}},
	}
	for _, r := range rows {
		require.NoError(t, up.Add(r))
	}
	counts, err := up.Check(ctx, tenant, []string{"company", "name"})
	require.NoError(t, err)
	require.Equal(t, dialq.UploadCounts{Rows: 6, Valid: 2, Invalid: 2, Duplicates: 1, Suppressed: 1,
		InvalidByReason: map[string]int64{dialq.ProblemPlaceholder: 1, dialq.ProblemCSV: 1}}, counts)
	problems, err := up.Problems(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, []dialq.ContactProblem{
		{Line: 2, Field: "metadata.company", Reason: "is required by the assistant's prompt or start instruction; missing: company", Kind: dialq.ProblemPlaceholder},
		{Line: 4, Field: "to_number", Reason: "duplicate of line 3", Kind: dialq.ProblemDuplicate},
		{Line: 5, Field: "to_number", Reason: "is on the do-not-call list", Kind: dialq.ProblemSuppressed},
		{Line: 7, Field: "csv", Reason: "bare quote", Kind: dialq.ProblemCSV},
	}, problems)
	capped, err := up.Problems(ctx, 1)
	require.NoError(t, err)
	require.Len(t, capped, 1)
	zones, err := up.Zones(ctx, "America/Chicago")
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"Europe/Paris": 1, "America/Chicago": 1}, zones)

	c := &dialq.Campaign{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, Name: "c", AssistantID: uuid.New(), TrunkID: "ST_x",
		Service: dialq.ServiceTwilio, Settings: dialq.CampaignSettings{DefaultTimezone: "America/Chicago"}.WithDefaults(),
		Status: dialq.CampaignRunning, ContactsTotal: 2}
	notBefore := time.Now().Add(time.Hour).Truncate(time.Second)
	require.NoError(t, up.Commit(ctx, c, notBefore))
	require.NoError(t, up.Rollback(), "after Commit, Rollback does nothing")

	got, err := db.QueryString(ctx, `SELECT string_agg(line || ' ' || to_number || ' ' || timezone || ' ' || status, ', ' ORDER BY line)
		FROM campaign_contacts WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	require.Equal(t, "3 +15550700002 Europe/Paris pending, 6 +15550700001 America/Chicago pending", got)
	nb, err := db.QueryString(ctx, `SELECT count(*)::text FROM campaign_contacts WHERE campaign_id = $1 AND not_before = $2`, c.ID, notBefore)
	require.NoError(t, err)
	require.Equal(t, "2", nb)
	st, err := db.QueryString(ctx, `SELECT status || ' ' || contacts_total || ' ' || (settings->>'max_concurrency') FROM campaigns WHERE id = $1`, c.ID)
	require.NoError(t, err)
	require.Equal(t, "running 2 10", st)
}

// TestContactUploadRollbackStoresNothing: an upload thrown away, even half
// way through its COPY, leaves no campaign and no contact.
func TestContactUploadRollbackStoresNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := newBridgeStore(t)
	up, err := db.BeginContactUpload(ctx)
	require.NoError(t, err)
	for i := range 1000 {
		require.NoError(t, up.Add(dialq.StagedContact{Line: int64(i + 2), ToNumber: fmt.Sprintf("+1555070%04d", i)}))
	}
	require.NoError(t, up.Rollback())
	n, err := db.QueryString(ctx, `SELECT (SELECT count(*) FROM campaigns) + (SELECT count(*) FROM campaign_contacts)`)
	require.NoError(t, err)
	require.Equal(t, "0", n)
	// The staging table was the transaction's own: another upload starts clean.
	up, err = db.BeginContactUpload(ctx)
	require.NoError(t, err)
	counts, err := up.Check(ctx, uuid.New(), nil)
	require.NoError(t, err)
	require.Zero(t, counts.Rows)
	require.NoError(t, up.Rollback())
}

// TestSuppressionsAreTheTenants: the do-not-call list is per tenant;
// adding a number twice keeps one row and its first reason.
func TestSuppressionsAreTheTenants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tenant := newBridgeStore(t)
	other := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: other, Name: "o"}))
	n, err := db.Suppress(ctx, tenant, []string{"+15550800001", "+15550800002"}, "first")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = db.Suppress(ctx, tenant, []string{"+15550800001"}, "second")
	require.NoError(t, err)
	require.Zero(t, n)
	for _, tc := range []struct {
		tenant uuid.UUID
		number string
		want   bool
	}{{tenant, "+15550800001", true}, {tenant, "+15550800003", false}, {other, "+15550800001", false}} {
		got, err := db.IsSuppressed(ctx, tc.tenant, tc.number)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%v %s", tc.tenant, tc.number)
	}
	list, err := db.ListSuppressions(ctx, tenant, 10, time.Time{}, "")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "first", list[0].Reason)
	require.Error(t, db.DeleteSuppression(ctx, other, "+15550800001"))
	require.NoError(t, db.DeleteSuppression(ctx, tenant, "+15550800001"))
	require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(db.DeleteSuppression(ctx, tenant, "+15550800001")))
}
