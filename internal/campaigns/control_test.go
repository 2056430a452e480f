package campaigns_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// Pause, resume and cancel move a campaign only where its status allows;
// cancel cancels its pending contacts; another tenant's campaign is not
// found.
func TestControl(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	ctx := context.Background()
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 1}, numbers(5)...)
	r.pass(r.sched) // one call placed

	other := uuid.New()
	require.NoError(t, r.db.SaveTenant(ctx, &dialq.Tenant{ID: other, Name: "other"}))
	for _, f := range []func(context.Context, uuid.UUID, uuid.UUID) (*dialq.Campaign, error){r.svc.Pause, r.svc.Resume, r.svc.Cancel, r.svc.Get} {
		_, err := f(ctx, other, c.ID)
		require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(err))
	}
	_, _, err := r.svc.Progress(ctx, other, c.ID)
	require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(err))
	_, err = r.svc.Calls(ctx, other, c.ID, dialq.CallFilter{})
	require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(err))
	require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(r.svc.Export(ctx, other, c.ID, &bytes.Buffer{}, nil)))
	page, err := r.svc.List(ctx, other, 0, "")
	require.NoError(t, err)
	require.Empty(t, page.Campaigns)

	got, err := r.svc.Pause(ctx, r.tenant, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.CampaignPaused, got.Status)
	got, err = r.svc.Pause(ctx, r.tenant, c.ID)
	require.NoError(t, err, "pausing a paused campaign changes nothing")
	require.Equal(t, dialq.CampaignPaused, got.Status)
	got, err = r.svc.Resume(ctx, r.tenant, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.CampaignRunning, got.Status)
	require.Empty(t, got.StatusReason)

	got, err = r.svc.Cancel(ctx, r.tenant, c.ID)
	require.NoError(t, err)
	require.Equal(t, dialq.CampaignCanceled, got.Status)
	require.NotNil(t, got.EndedAt)
	for line := int64(3); line <= 6; line++ {
		require.Equal(t, dialq.ContactCanceled, r.contact(c.ID, line).Status)
	}
	require.Equal(t, dialq.ContactCalling, r.contact(c.ID, 2).Status, "a live call goes on")
	_, err = r.svc.Resume(ctx, r.tenant, c.ID)
	require.Equal(t, dialq.ECONFLICT, dialq.ErrorCode(err))
	require.Contains(t, dialq.ErrorMessage(err), "is canceled")
	_, err = r.svc.Pause(ctx, r.tenant, c.ID)
	require.Equal(t, dialq.ECONFLICT, dialq.ErrorCode(err))

	// The live call's outcome is applied; a retry would not happen.
	r.end(r.calls(c.ID)[0].ID, nil)
	r.pass(r.sched)
	require.Equal(t, dialq.ContactDone, r.contact(c.ID, 2).Status)
	require.Len(t, r.calls(c.ID), 1)
}

// A campaign whose calls fail too often pauses itself and says why; a
// resume counts failures anew.
func TestAutoPause(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	ctx := context.Background()
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 4, MaxConcurrency: 4,
		AutoPause: dialq.AutoPause{FailureRate: 0.5, WindowSeconds: 60, MinCalls: 4}}, numbers(12)...)
	r.pass(r.sched)
	list := r.calls(c.ID)
	require.Len(t, list, 4)
	r.end(list[0].ID, failed)
	r.end(list[1].ID, &dialq.Failure{Reason: dialq.ReasonUnreachable, SIPCode: 404, SIPStatus: "Not Found", Message: "no such number"})
	r.end(list[2].ID, nil)
	r.clock.Advance(time.Second)
	r.pass(r.sched)
	require.Equal(t, dialq.CampaignRunning, r.get(c.ID).Status, "3 ended: fewer than min_calls")
	require.Len(t, r.calls(c.ID), 7)
	r.end(list[3].ID, nil)
	r.clock.Advance(time.Second)
	r.pass(r.sched)
	got := r.get(c.ID)
	require.Equal(t, dialq.CampaignPaused, got.Status)
	require.Equal(t, "auto-paused: 2 of 4 calls failed (status failed or unreachable) in the last 1m0s, at or above the failure_rate 0.5", got.StatusReason)
	n := len(r.calls(c.ID))
	r.clock.Advance(time.Second)
	r.pass(r.sched)
	require.Len(t, r.calls(c.ID), n, "an auto-paused campaign places nothing")

	_, err := r.svc.Resume(ctx, r.tenant, c.ID)
	require.NoError(t, err)
	r.clock.Advance(time.Second)
	r.pass(r.sched)
	require.Equal(t, dialq.CampaignRunning, r.get(c.ID).Status, "the failures before the resume do not count")
}

// Progress counts contacts and calls; the export has every contact with its
// last call and metadata columns.
func TestProgressAndExport(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	ctx := context.Background()
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 2}, numbers(6)...)
	r.pass(r.sched)
	list := r.calls(c.ID)
	require.Len(t, list, 2)
	r.clock.Advance(10 * time.Second)
	r.end(list[0].ID, nil)
	r.end(list[1].ID, busy)
	require.NoError(t, r.db.RecordReport(ctx, list[0].ID, dialq.Report{AnsweredBy: dialq.AnsweredByHuman, Disposition: "interested", Summary: "wants a demo"}))
	r.pass(r.sched) // applies both, places 2 more

	got, p, err := r.svc.Progress(ctx, r.tenant, c.ID)
	require.NoError(t, err)
	require.Equal(t, c.ID, got.ID)
	require.Equal(t, map[dialq.ContactStatus]int{dialq.ContactDone: 2, dialq.ContactCalling: 2, dialq.ContactPending: 2}, p.Contacts)
	require.Equal(t, map[dialq.CallStatus]int{dialq.StatusCompleted: 1, dialq.StatusBusy: 1, dialq.StatusQueued: 2}, p.Outcomes)
	require.Equal(t, 4, p.Calls)
	require.InDelta(t, 4.0/60, p.DialRate, 1e-9)
	require.NotNil(t, p.AnswerRate)
	require.InDelta(t, 0.5, *p.AnswerRate, 1e-9)
	require.NotNil(t, p.ETASeconds)
	require.InDelta(t, 1.0, *p.ETASeconds, 1e-9)

	page, err := r.svc.Calls(ctx, r.tenant, c.ID, dialq.CallFilter{Status: dialq.StatusBusy})
	require.NoError(t, err)
	require.Len(t, page.Calls, 1)
	require.Equal(t, list[1].ID, page.Calls[0].ID)

	var buf bytes.Buffer
	began := false
	require.NoError(t, r.svc.Export(ctx, r.tenant, c.ID, &buf, func(*dialq.Campaign) { began = true }))
	require.True(t, began)
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 7)
	require.Equal(t, []string{"line", "to_number", "timezone", "status", "outcome", "attempts", "reason", "call_id",
		"sip_status_code", "duration_seconds", "answered_by", "disposition", "summary", "name"}, rows[0])
	require.Equal(t, []string{"2", "+15550200000", "UTC", "done", "completed", "1", "completed is not retried", list[0].ID.String(),
		"200", "0.000", "human", "interested", "wants a demo", "Contact 2"}, rows[1])
	require.Equal(t, []string{"3", "+15550200001", "UTC", "done", "busy", "1", "busy: no retries left (0 of 0 used)", list[1].ID.String(),
		"486", "", "", "", "", "Contact 3"}, rows[2])
	require.Equal(t, "pending", rows[6][3])

	// The list pages by cursor, newest first.
	r.clock.Advance(time.Second)
	c2 := r.campaign(dialq.CampaignSettings{}, numbers(1)...)
	pg, err := r.svc.List(ctx, r.tenant, 1, "")
	require.NoError(t, err)
	require.Equal(t, c2.ID, pg.Campaigns[0].ID)
	require.NotEmpty(t, pg.Next)
	pg, err = r.svc.List(ctx, r.tenant, 1, pg.Next)
	require.NoError(t, err)
	require.Equal(t, c.ID, pg.Campaigns[0].ID)
	require.Empty(t, pg.Next)
	_, err = r.svc.List(ctx, r.tenant, 501, "nope")
	require.Equal(t, []string{"limit", "cursor"}, fieldNames(err))
}

func fieldNames(err error) []string {
	var out []string
	for _, f := range dialq.ErrorFields(err) {
		out = append(out, f.Field)
	}
	return out
}
