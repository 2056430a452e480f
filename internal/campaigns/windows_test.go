package campaigns_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

var nineToFive = []dialq.CallingWindow{{Start: "09:00", End: "17:00"}}

// Each contact is called only within the window in its own zone: at 12:00
// UTC on a Monday New York (07:00) opens at 14:00 UTC and Kolkata (17:30)
// the next morning; London (12:00) is called at once, with dial_by its
// window's close.
func TestSchedulerWindowsAcrossZones(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 10, Windows: nineToFive},
		contact{number: "+12125550100", zone: "America/New_York"},
		contact{number: "+919800000001", zone: "Asia/Kolkata"},
		contact{number: "+442071230000", zone: "Europe/London"})
	r.pass(r.sched)
	ny, in, uk := r.contact(c.ID, 2), r.contact(c.ID, 3), r.contact(c.ID, 4)
	require.Equal(t, dialq.ContactPending, ny.Status)
	require.Equal(t, time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC), ny.NotBefore.UTC())
	require.Contains(t, ny.Reason, "waiting for its calling window, which opens at 2026-11-30T09:00:00-05:00")
	require.Equal(t, dialq.ContactPending, in.Status)
	require.Equal(t, time.Date(2026, 12, 1, 3, 30, 0, 0, time.UTC), in.NotBefore.UTC())
	require.Equal(t, dialq.ContactCalling, uk.Status)
	list := r.calls(c.ID)
	require.Len(t, list, 1)
	require.Equal(t, time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC), list[0].DialBy.UTC())

	r.clock.Advance(2 * time.Hour) // 14:00 UTC: 09:00 in New York
	r.pass(r.sched)
	require.Equal(t, dialq.ContactCalling, r.contact(c.ID, 2).Status)
	require.Equal(t, dialq.ContactPending, r.contact(c.ID, 3).Status)
	list = r.calls(c.ID)
	require.Len(t, list, 2)
	require.Equal(t, time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC), list[1].DialBy.UTC())
}

// A window keeps its local hours across a DST change: the evening before
// New York springs forward, 09:00 the next morning is 13:00 UTC, not 14:00.
func TestSchedulerWindowAcrossDST(t *testing.T) {
	t.Parallel()
	r := newRig(t, time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC)) // 18:00 EST, Saturday
	c := r.campaign(dialq.CampaignSettings{Windows: nineToFive}, contact{number: "+12125550100", zone: "America/New_York"})
	r.pass(r.sched)
	ct := r.contact(c.ID, 2)
	require.Equal(t, time.Date(2026, 3, 8, 13, 0, 0, 0, time.UTC), ct.NotBefore.UTC())
	r.clock.Advance(13*time.Hour + 59*time.Minute) // 12:59 UTC: 08:59 EDT
	r.pass(r.sched)
	require.Empty(t, r.calls(c.ID))
	r.clock.Advance(time.Minute)
	r.pass(r.sched)
	require.Len(t, r.calls(c.ID), 1)
}

// A window that applies on no day within eight days cancels the contact.
func TestSchedulerNoWindowOpens(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	// Only on Sundays, and it is Monday: the next Sunday is within eight
	// days, so it waits; a contact past that would be canceled.
	c := r.campaign(dialq.CampaignSettings{Windows: []dialq.CallingWindow{{Days: []string{"sun"}, Start: "10:00", End: "11:00"}}},
		contact{number: "+442071230000", zone: "Europe/London"})
	r.pass(r.sched)
	require.Equal(t, time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), r.contact(c.ID, 2).NotBefore.UTC())
}

// The check before the dial: a call queued before its campaign paused, its
// number was suppressed or its window closed is not dialed; the call ends
// canceled and its contact goes back (the attempt not counted) or to
// suppressed. The attempt placed again is a new call.
func TestDialCheckHoldsCampaignCalls(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	ctx := context.Background()
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 10, Windows: []dialq.CallingWindow{{Start: "11:00", End: "12:30"}}},
		contact{number: "+442071230001", zone: "Europe/London"},
		contact{number: "+442071230002", zone: "Europe/London"},
		contact{number: "+442071230003", zone: "Europe/London"})
	r.pass(r.sched)
	list := r.calls(c.ID)
	require.Len(t, list, 3)
	byLine := map[int64]*dialq.Call{}
	for _, call := range list {
		byLine[*call.ContactLine] = call
		held, err := r.svc.HoldCampaignCall(ctx, call)
		require.NoError(t, err)
		require.False(t, held, "a running campaign's call in its window is dialed")
	}

	// Suppressed mid-campaign.
	testenv.SQL(t, r.dsn, `INSERT INTO suppressions (tenant_id, number, created_at) VALUES ($1, $2, now()) RETURNING number`, r.tenant, "+442071230001")
	held, err := r.svc.HoldCampaignCall(ctx, byLine[2])
	require.NoError(t, err)
	require.True(t, held)
	require.Equal(t, dialq.ContactSuppressed, r.contact(c.ID, 2).Status)
	call, err := r.db.GetCall(ctx, byLine[2].ID)
	require.NoError(t, err)
	require.Equal(t, dialq.StatusCanceled, call.Status)
	require.Equal(t, "the number is on the do-not-call list", call.EndReason)

	// Paused: back to pending, attempt not counted, key released.
	_, err = r.svc.Pause(ctx, r.tenant, c.ID)
	require.NoError(t, err)
	held, err = r.svc.HoldCampaignCall(ctx, byLine[3])
	require.NoError(t, err)
	require.True(t, held)
	ct := r.contact(c.ID, 3)
	require.Equal(t, dialq.ContactPending, ct.Status)
	require.Equal(t, 0, ct.Attempts)
	require.Equal(t, "the campaign is paused", ct.Reason)
	require.Empty(t, testenv.SQL(t, r.dsn, `SELECT coalesce(idempotency_key, '') FROM calls WHERE id = $1`, byLine[3].ID))
	r.pass(r.sched)
	require.Len(t, r.calls(c.ID), 3, "a paused campaign places nothing")
	_, err = r.svc.Resume(ctx, r.tenant, c.ID)
	require.NoError(t, err)
	r.pass(r.sched)
	ct = r.contact(c.ID, 3)
	require.Equal(t, dialq.ContactCalling, ct.Status)
	require.Equal(t, 1, ct.Attempts)
	require.NotEqual(t, byLine[3].ID, *ct.CallID, "the attempt is a new call")

	// The window closes (12:30 London) before line 4's call is dialed.
	r.clock.Advance(31 * time.Minute)
	held, err = r.svc.HoldCampaignCall(ctx, byLine[4])
	require.NoError(t, err)
	require.True(t, held)
	ct = r.contact(c.ID, 4)
	require.Equal(t, dialq.ContactPending, ct.Status)
	require.Equal(t, time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC), ct.NotBefore.UTC())
	require.Equal(t, 0, ct.Attempts)
	call, err = r.db.GetCall(ctx, byLine[4].ID)
	require.NoError(t, err)
	require.Equal(t, "its calling window closed", call.EndReason)

	// A call held twice (the task retried) changes nothing more.
	held, err = r.svc.HoldCampaignCall(ctx, byLine[4])
	require.NoError(t, err)
	require.False(t, held)
}

// Contacts all outside their window are moved to the next opening a few
// hundred per pass, so that no pass holds its campaign for long; none is
// called.
func TestSchedulerDefersInBoundedPasses(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	list := numbers(700)
	for i := range list {
		list[i].zone = "America/New_York" // 07:00 there
	}
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 10, Windows: nineToFive}, list...)
	due := func() string {
		return testenv.SQL(t, r.dsn, `SELECT count(*)::text FROM campaign_contacts WHERE campaign_id = $1 AND not_before <= $2`, c.ID, monday)
	}
	r.pass(r.sched)
	require.Equal(t, "200", due(), "500 moved by the first pass")
	r.pass(r.sched)
	require.Equal(t, "0", due())
	require.Empty(t, r.calls(c.ID))
}
