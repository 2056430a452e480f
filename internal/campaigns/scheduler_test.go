package campaigns_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

var monday = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) // a Monday, 12:00 UTC

// The pace holds across passes and across workers: two schedulers
// alternating on the same campaign start calls_per_second calls a second,
// with the fraction carried between passes, and never call a contact twice.
func TestSchedulerPaceAcrossWorkers(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	_, second := r.secondWorker()
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 2, MaxConcurrency: 1000}, numbers(100)...)

	placed := 0
	for i := 0; i <= 60; i++ { // 15 s of 250 ms ticks
		s := r.sched
		if i%2 == 1 {
			s = second
		}
		placed += r.pass(s).Placed
		r.clock.Advance(250 * time.Millisecond)
	}
	// A second's worth at once, then 2 a second for 15 s.
	require.Equal(t, 32, placed)
	list := r.calls(c.ID)
	require.Len(t, list, 32)
	seen := map[string]bool{}
	for _, call := range list {
		require.False(t, seen[call.ToNumber], "%s called twice", call.ToNumber)
		seen[call.ToNumber] = true
		require.Equal(t, c.ID, *call.CampaignID)
	}
	span := list[len(list)-1].CreatedAt.Sub(list[0].CreatedAt)
	require.Equal(t, 15*time.Second, span, "30 calls after the first at 2 per second")

	// The same passes run at once on both workers place nothing twice.
	r.clock.Advance(2 * time.Second)
	done := make(chan int, 2)
	go func() { done <- r.pass(r.sched).Placed }()
	go func() { done <- r.pass(second).Placed }()
	require.Equal(t, 2, <-done+<-done, "a second's worth, once")
}

// A worker whose clock is behind the others' does not pace the same time
// twice: paced_at never goes back.
func TestSchedulerPaceWithASkewedClock(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	_, behind := r.secondWorkerAt(-400 * time.Millisecond)
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 2, MaxConcurrency: 1000}, numbers(100)...)
	placed := 0
	for i := 0; i <= 60; i++ {
		s := r.sched
		if i%2 == 1 {
			s = behind
		}
		placed += r.pass(s).Placed
		r.clock.Advance(250 * time.Millisecond)
	}
	require.Equal(t, 32, placed, "a second's worth, then 2 a second for 15 s")
	require.Len(t, r.calls(c.ID), 32)
}

// At most max_concurrency calls of a campaign are live at once, whatever
// the pace owes; an ended call frees its slot on the next pass.
func TestSchedulerMaxConcurrency(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	c := r.campaign(dialq.CampaignSettings{CallsPerSecond: 50, MaxConcurrency: 3}, numbers(10)...)
	for i := 0; i < 8; i++ {
		r.pass(r.sched)
		r.clock.Advance(time.Second)
		live := 0
		for _, call := range r.calls(c.ID) {
			if !call.Status.Terminal() {
				live++
			}
		}
		require.LessOrEqual(t, live, 3)
		require.Equal(t, 3, live, "pass %d: the cap is filled", i)
		// One call ends between passes.
		for _, call := range r.calls(c.ID) {
			if !call.Status.Terminal() {
				r.end(call.ID, nil)
				break
			}
		}
	}
	require.Len(t, r.calls(c.ID), 10)
}

// Busy and no answer are retried as the policy says, as attempts of the
// same contact after the delay; when the retries are used the contact is
// done with its last call's status. A success is never retried.
func TestSchedulerRetriesByOutcome(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	st := dialq.CampaignSettings{CallsPerSecond: 10, Retry: dialq.RetryPolicy{
		Busy:     dialq.RetryRule{MaxRetries: 1, DelaySeconds: 60},
		NoAnswer: dialq.RetryRule{MaxRetries: 2, DelaySeconds: 30}}}
	c := r.campaign(st, contact{number: "+15550300001"}, contact{number: "+15550300002"}, contact{number: "+15550300003"})
	r.pass(r.sched)
	list := r.calls(c.ID)
	require.Len(t, list, 3)
	byNumber := map[string]*dialq.Call{}
	for _, call := range list {
		byNumber[call.ToNumber] = call
		require.Equal(t, "campaign:"+c.ID.String()+":"+strconv.FormatInt(*call.ContactLine, 10)+":1",
			testenv.SQL(t, r.dsn, `SELECT idempotency_key FROM calls WHERE id = $1`, call.ID))
	}
	r.end(byNumber["+15550300001"].ID, busy)
	r.end(byNumber["+15550300002"].ID, noAnswer)
	r.end(byNumber["+15550300003"].ID, nil)
	r.pass(r.sched)

	ct := r.contact(c.ID, 2)
	require.Equal(t, dialq.ContactPending, ct.Status)
	require.Equal(t, dialq.StatusBusy, ct.Outcome)
	require.Equal(t, 1, ct.Attempts)
	require.Equal(t, monday.Add(60*time.Second), ct.NotBefore.UTC())
	require.Equal(t, "busy: retry 1 of 1", ct.Reason)
	require.Equal(t, dialq.ContactPending, r.contact(c.ID, 3).Status)
	done := r.contact(c.ID, 4)
	require.Equal(t, dialq.ContactDone, done.Status)
	require.Equal(t, dialq.StatusCompleted, done.Outcome)

	// 30 s on, only the no-answer contact is due.
	r.clock.Advance(30 * time.Second)
	r.pass(r.sched)
	ct = r.contact(c.ID, 3)
	require.Equal(t, dialq.ContactCalling, ct.Status)
	require.Equal(t, 2, ct.Attempts)
	require.Equal(t, dialq.ContactPending, r.contact(c.ID, 2).Status)
	// 30 s more: the busy one's second attempt, which is busy again.
	r.clock.Advance(30 * time.Second)
	r.pass(r.sched)
	ct = r.contact(c.ID, 2)
	require.Equal(t, dialq.ContactCalling, ct.Status)
	r.end(*ct.CallID, busy)
	r.pass(r.sched)
	ct = r.contact(c.ID, 2)
	require.Equal(t, dialq.ContactDone, ct.Status)
	require.Equal(t, dialq.StatusBusy, ct.Outcome)
	require.Equal(t, 2, ct.Attempts)
	require.Equal(t, "busy: no retries left (1 of 1 used)", ct.Reason)
	require.Len(t, r.calls(c.ID), 5)
}

// An agent's do_not_call disposition is never retried and puts the number
// on the tenant's do-not-call list; a contact whose number is on it is not
// called.
func TestSchedulerDoNotCall(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	ctx := context.Background()
	st := dialq.CampaignSettings{CallsPerSecond: 10, Retry: dialq.RetryPolicy{Machine: dialq.RetryRule{MaxRetries: 3}}}
	c := r.campaign(st, contact{number: "+15550400001"})
	r.pass(r.sched)
	call := r.calls(c.ID)[0]
	r.end(call.ID, nil)
	// A machine-retrying campaign waits for the report a moment.
	r.pass(r.sched)
	require.Equal(t, dialq.ContactCalling, r.contact(c.ID, 2).Status)
	require.NoError(t, r.db.RecordReport(ctx, call.ID, dialq.Report{AnsweredBy: dialq.AnsweredByHuman, Disposition: "do_not_call"}))
	r.pass(r.sched)
	ct := r.contact(c.ID, 2)
	require.Equal(t, dialq.ContactDone, ct.Status)
	require.Contains(t, ct.Reason, "do_not_call")

	// Another campaign of the tenant with that number suppresses it.
	c2 := r.campaign(dialq.CampaignSettings{}, contact{number: "+15550400001"}, contact{number: "+15550400002"})
	r.pass(r.sched)
	require.Equal(t, dialq.ContactSuppressed, r.contact(c2.ID, 2).Status)
	require.Equal(t, dialq.ContactCalling, r.contact(c2.ID, 3).Status)
	require.Len(t, r.calls(c2.ID), 1)
}

// A campaign with nothing left to call completes; a scheduled one starts
// at its start_at.
func TestSchedulerStartsAndCompletes(t *testing.T) {
	t.Parallel()
	r := newRig(t, monday)
	start := monday.Add(10 * time.Second)
	c := r.campaign(dialq.CampaignSettings{StartAt: &start}, contact{number: "+15550500001"})
	r.pass(r.sched)
	require.Equal(t, dialq.CampaignScheduled, r.get(c.ID).Status)
	require.Empty(t, r.calls(c.ID))
	r.clock.Advance(10 * time.Second)
	r.pass(r.sched)
	require.Equal(t, dialq.CampaignRunning, r.get(c.ID).Status)
	list := r.calls(c.ID)
	require.Len(t, list, 1)
	r.end(list[0].ID, nil)
	r.pass(r.sched)
	got := r.get(c.ID)
	require.Equal(t, dialq.CampaignCompleted, got.Status)
	require.NotNil(t, got.EndedAt)
}
