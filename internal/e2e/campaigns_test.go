package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	lkp "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/limiter"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// campaign creates a campaign of the stack's tenant calling numbers
// through its twilio trunk as its users do, a POST /campaigns of JSON:
// settings with their defaults filled, every contact in UTC, dialed from
// now. Its contacts are lines 1, 2, ... (a JSON body's contact's line is
// its position in the array). It returns the campaign as stored.
func (s *stack) campaign(st dialq.CampaignSettings, numbers ...string) *dialq.Campaign {
	s.t.Helper()
	return s.campaignOn(dialq.ServiceTwilio, s.twilio, st, numbers...)
}

// campaignOn is campaign through another of the stack's trunks.
func (s *stack) campaignOn(service dialq.CallService, trunk string, st dialq.CampaignSettings, numbers ...string) *dialq.Campaign {
	s.t.Helper()
	contacts := make([]map[string]any, len(numbers))
	for i, n := range numbers {
		contacts[i] = map[string]any{"to_number": n, "timezone": "UTC",
			"metadata": map[string]any{"name": fmt.Sprintf("Contact %d", i+1), "company": "Acme", "agent_name": "Sarah"}}
	}
	r := s.do(http.MethodPost, "/campaigns", map[string]any{"name": "e2e", "assistant_id": s.assistant, "trunk_id": trunk,
		"call_service": service, "settings": st.WithDefaults(), "contacts": contacts})
	require.Equal(s.t, http.StatusCreated, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	require.EqualValues(s.t, len(numbers), data["contacts_total"], r.Raw)
	c, err := s.db.FindCampaign(context.Background(), s.tenant, uuid.MustParse(data["id"].(string)))
	require.NoError(s.t, err)
	return c
}

// campaignCalls lists the campaign's calls, oldest first.
func (s *stack) campaignCalls(id uuid.UUID) []*dialq.Call {
	s.t.Helper()
	f := dialq.CallFilter{CampaignID: id, Limit: dialq.MaxCallPage}
	require.NoError(s.t, f.Validate())
	list, err := s.db.ListCalls(context.Background(), s.tenant, f)
	require.NoError(s.t, err)
	out := make([]*dialq.Call, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		out = append(out, list[i])
	}
	return out
}

func (s *stack) contactOf(id uuid.UUID, line int64) *dialq.Contact {
	s.t.Helper()
	ct, err := s.db.FindContact(context.Background(), id, line)
	require.NoError(s.t, err)
	return ct
}

// raw answers a request whose body is not JSON (the CSV export).
func (s *stack) raw(method, path string) string {
	s.t.Helper()
	req, err := http.NewRequest(method, s.apiURL+path, nil)
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := s.client.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, resp.StatusCode, "%s", b)
	require.Equal(s.t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	return string(b)
}

func over(list []*dialq.Call) bool {
	for _, c := range list {
		if !c.Status.Terminal() {
			return false
		}
	}
	return true
}

func dialed(list []*dialq.Call) int {
	n := 0
	for _, c := range list {
		if c.DialedAt != nil {
			n++
		}
	}
	return n
}

// holdsFor checks cond on every poll for d: what must not happen (a call
// of a paused campaign) cannot be awaited, only watched for a while.
func holdsFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		require.True(t, cond(), what)
		time.Sleep(50 * time.Millisecond)
	}
}

func campaignNumbers(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

// newCampaignStack is a stack with two workers, each running the
// scheduler and serving the campaign queue, and a reconciler that ends
// answered calls whose phone hung up.
func newCampaignStack(t *testing.T, script sipdouble.Script) *stack {
	t.Helper()
	o := stackOptions{script: script, noWorker: true, reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond}}
	s := newStack(t, o)
	s.startWorker(o)
	s.startWorker(o)
	return s
}

// newCampaignProcesses is a stack with two cmd/worker processes, each
// running the scheduler and serving the campaign queue.
func newCampaignProcesses(t *testing.T, script sipdouble.Script) *stack {
	t.Helper()
	s := newStack(t, stackOptions{script: script, noWorker: true})
	for range 2 {
		s.startWorkerProc(t, "DIALQ_RING_TIMEOUT=20s", "DIALQ_DIAL_TIMEOUT=1m", "DIALQ_RECONCILE_INTERVAL=300ms")
	}
	return s
}

// Pause, resume and cancel through the API take effect on both workers
// within a second: no call of a paused campaign is dialed after it, calls
// already queued are held before their dial, resume goes on from there,
// cancel ends it for good. No contact is dialed twice. Another tenant can
// neither see nor control the campaign. The workers are two cmd/worker
// processes.
func TestCampaignControlWithTwoWorkers(t *testing.T) {
	t.Parallel()
	s := newCampaignProcesses(t, sipdouble.Always(sipdouble.Outcome{Code: 486, RingFor: 200 * time.Millisecond}))
	numbers := campaignNumbers("+1555061", 40)
	c := s.campaign(dialq.CampaignSettings{CallsPerSecond: 5, MaxConcurrency: 4}, numbers...)
	path := "/campaigns/" + c.ID.String()

	waitFor(t, 10*time.Second, "4 campaign calls dialed", func() bool { return dialed(s.campaignCalls(c.ID)) >= 4 })
	r := s.do(http.MethodPost, path+"/pause", nil)
	pausedAt := time.Now()
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "paused", r.Body["data"].(map[string]any)["status"])
	require.Equal(t, c.ID.String(), r.Body["data"].(map[string]any)["id"])

	waitFor(t, 10*time.Second, "every call of the paused campaign over", func() bool { return over(s.campaignCalls(c.ID)) })
	list := s.campaignCalls(c.ID)
	held := 0
	for _, call := range list {
		if call.DialedAt != nil {
			require.True(t, call.DialedAt.Before(pausedAt.Add(time.Second)), "call %s dialed %s after the pause", call.ID, call.DialedAt.Sub(pausedAt))
		} else {
			require.Equal(t, dialq.StatusCanceled, call.Status)
			require.Equal(t, "the campaign is paused", call.EndReason)
			held++
		}
	}
	placed := len(list)
	holdsFor(t, 1500*time.Millisecond, "a paused campaign places no call", func() bool { return len(s.campaignCalls(c.ID)) == placed })

	r = s.do(http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	require.Equal(t, "paused", data["status"])
	progress := data["progress"].(map[string]any)
	require.Greater(t, progress["contacts"].(map[string]any)["pending"].(float64), 20.0)

	// Another tenant sees nothing and controls nothing.
	other := uuid.New()
	require.NoError(t, s.db.SaveTenant(context.Background(), &dialq.Tenant{ID: other, Name: "other"}))
	k, key := dialq.NewAPIKey(other)
	require.NoError(t, s.db.CreateAPIKey(context.Background(), k, "other"))
	as := map[string]string{"Authorization": "Bearer " + key}
	for _, req := range []struct{ method, path string }{{"GET", path}, {"GET", path + "/calls"}, {"POST", path + "/resume"}, {"POST", path + "/cancel"}} {
		r := s.doHeaders(req.method, req.path, nil, as)
		require.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", req.method, req.path, r.Raw)
	}
	r = s.doHeaders(http.MethodGet, "/campaigns", nil, as)
	require.Equal(t, http.StatusOK, r.Status)
	require.Empty(t, r.Body["data"])
	require.Equal(t, "paused", s.do(http.MethodGet, path, nil).Body["data"].(map[string]any)["status"])

	r = s.do(http.MethodPost, path+"/resume", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "running", r.Body["data"].(map[string]any)["status"])
	waitFor(t, 10*time.Second, "dialing again after the resume", func() bool { return dialed(s.campaignCalls(c.ID)) >= placed-held+4 })

	r = s.do(http.MethodPost, path+"/cancel", nil)
	canceledAt := time.Now()
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "canceled", r.Body["data"].(map[string]any)["status"])
	waitFor(t, 10*time.Second, "every call of the canceled campaign over", func() bool { return over(s.campaignCalls(c.ID)) })
	for _, call := range s.campaignCalls(c.ID) {
		if call.DialedAt != nil {
			require.True(t, call.DialedAt.Before(canceledAt.Add(time.Second)), "call %s dialed after the cancel", call.ID)
		}
	}
	r = s.do(http.MethodPost, path+"/resume", nil)
	require.Equal(t, http.StatusConflict, r.Status, r.Raw)

	r = s.do(http.MethodGet, path, nil)
	contacts := r.Body["data"].(map[string]any)["progress"].(map[string]any)["contacts"].(map[string]any)
	require.Nil(t, contacts["pending"], "cancel leaves no contact pending")
	require.Greater(t, contacts["canceled"].(float64), 0.0)
	for _, n := range numbers {
		require.LessOrEqual(t, s.dialsTo(n), 1, "%s dialed twice", n)
	}
}

// Busy and no answer are dialed again as the retry policy says, each as an
// attempt of the same contact; an answered call is done; a number put on
// the do-not-call list mid-campaign is never dialed; a contact outside its
// calling window is not dialed.
func TestCampaignRetriesAndSuppression(t *testing.T) {
	t.Parallel()
	const busyN, noAnswerN, answerN, laterN, closedN = "+15550620001", "+15550620002", "+15550620003", "+15550620004", "+15550620005"
	s := newCampaignStack(t, sipdouble.ByNumber(map[string]sipdouble.Outcome{
		busyN:     {Code: 486},
		noAnswerN: {Code: 480, RingFor: 100 * time.Millisecond},
	}, sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 100 * time.Millisecond, HangUpAfter: 300 * time.Millisecond})))
	st := dialq.CampaignSettings{CallsPerSecond: 1, Retry: dialq.RetryPolicy{
		Busy: dialq.RetryRule{MaxRetries: 1, DelaySeconds: 1}, NoAnswer: dialq.RetryRule{MaxRetries: 2, DelaySeconds: 1}}}
	c := s.campaign(st, busyN, noAnswerN, answerN, laterN)
	// One more campaign whose only window is on another weekday.
	tomorrow := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[(time.Now().UTC().Weekday()+1)%7]
	closed := s.campaign(dialq.CampaignSettings{Windows: []dialq.CallingWindow{{Days: []string{tomorrow}, Start: "00:00", End: "24:00"}}}, closedN)

	waitFor(t, 10*time.Second, "the first call", func() bool { return s.dialsTo(busyN) >= 1 })
	testenv.SQL(t, s.dsn, `INSERT INTO suppressions (tenant_id, number, created_at) VALUES ($1, $2, now()) RETURNING number`, s.tenant, laterN)

	waitFor(t, 30*time.Second, "the campaign completed", func() bool {
		cp, err := s.db.FindCampaign(context.Background(), s.tenant, c.ID)
		require.NoError(t, err)
		return cp.Status == dialq.CampaignCompleted
	})
	require.Equal(t, 2, s.dialsTo(busyN))
	require.Equal(t, 3, s.dialsTo(noAnswerN))
	require.Equal(t, 1, s.dialsTo(answerN))
	require.Equal(t, 0, s.dialsTo(laterN))
	for _, want := range []struct {
		line     int64
		status   dialq.ContactStatus
		outcome  dialq.CallStatus
		attempts int
	}{{1, dialq.ContactDone, dialq.StatusBusy, 2}, {2, dialq.ContactDone, dialq.StatusNoAnswer, 3},
		{3, dialq.ContactDone, dialq.StatusCompleted, 1}, {4, dialq.ContactSuppressed, "", 0}} {
		ct := s.contactOf(c.ID, want.line)
		require.Equal(t, want.status, ct.Status, "line %d", want.line)
		require.Equal(t, want.outcome, ct.Outcome, "line %d", want.line)
		require.Equal(t, want.attempts, ct.Attempts, "line %d", want.line)
	}
	// The retries are calls of their own, with the contact's line.
	r := s.do(http.MethodGet, "/campaigns/"+c.ID.String()+"/calls?status=busy", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Len(t, r.Body["data"], 2)
	for _, item := range r.Body["data"].([]any) {
		require.Equal(t, c.ID.String(), item.(map[string]any)["campaign_id"])
		require.Equal(t, 1.0, item.(map[string]any)["contact_line"])
	}
	ct := s.contactOf(closed.ID, 1)
	require.Equal(t, dialq.ContactPending, ct.Status)
	require.True(t, ct.NotBefore.After(time.Now()), "waits for tomorrow's window")
	require.Equal(t, 0, s.dialsTo(closedN))

	raw := s.raw(http.MethodGet, "/campaigns/"+c.ID.String()+"/export")
	require.Contains(t, raw, "line,to_number,timezone,status,outcome,attempts,reason,call_id,sip_status_code,duration_seconds,answered_by,disposition,summary,agent_name,company,name\n")
	require.Contains(t, raw, "\n1,"+busyN+",UTC,done,busy,2,busy: no retries left (1 of 1 used),")
}

// A campaign whose calls fail too often pauses itself on both workers.
func TestCampaignAutoPause(t *testing.T) {
	t.Parallel()
	s := newCampaignStack(t, sipdouble.Always(sipdouble.Outcome{Code: 503}))
	c := s.campaign(dialq.CampaignSettings{CallsPerSecond: 4, MaxConcurrency: 2,
		AutoPause: dialq.AutoPause{FailureRate: 0.5, WindowSeconds: 60, MinCalls: 3}}, campaignNumbers("+1555063", 30)...)
	waitFor(t, 15*time.Second, "the campaign auto-paused", func() bool {
		cp, err := s.db.FindCampaign(context.Background(), s.tenant, c.ID)
		require.NoError(t, err)
		return cp.Status == dialq.CampaignPaused
	})
	r := s.do(http.MethodGet, "/campaigns/"+c.ID.String(), nil)
	reason := r.Body["data"].(map[string]any)["status_reason"].(string)
	require.Contains(t, reason, "auto-paused: ")
	require.Contains(t, reason, "calls failed (status failed or unreachable) in the last 1m0s")
	waitFor(t, 10*time.Second, "its calls over", func() bool { return over(s.campaignCalls(c.ID)) })
	require.LessOrEqual(t, dialed(s.campaignCalls(c.ID)), 5, "min_calls and the concurrency bound what fails before the pause")
}

// The pace holds across two worker processes: 2 calls a second for 15 s,
// and never more than max_concurrency live.
func TestCampaignPaceWithTwoWorkers(t *testing.T) {
	t.Parallel()
	s := newCampaignProcesses(t, sipdouble.Always(sipdouble.Outcome{Code: 486, RingFor: 1500 * time.Millisecond}))
	c := s.campaign(dialq.CampaignSettings{CallsPerSecond: 2, MaxConcurrency: 3, AutoPause: dialq.AutoPause{Disabled: true}},
		campaignNumbers("+1555064", 200)...)
	// A second campaign, dialed side by side, that its cap does not hold
	// back: the pace alone.
	paced := s.campaign(dialq.CampaignSettings{CallsPerSecond: 2, MaxConcurrency: 100, AutoPause: dialq.AutoPause{Disabled: true}},
		campaignNumbers("+1555065", 200)...)
	peak := 0
	deadline := time.Now().Add(17 * time.Second)
	for time.Now().Before(deadline) {
		live := 0
		for _, call := range s.campaignCalls(c.ID) {
			if !call.Status.Terminal() {
				live++
			}
		}
		peak = max(peak, live)
		require.LessOrEqual(t, live, 3, "max_concurrency")
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, 3, peak, "the cap was reached")
	// The limiter's own count, over both workers' dials.
	lim := limiter.New(testenv.Redis(t), limiter.Config{Prefix: s.limits.Prefix})
	held, err := lim.Peak(context.Background(), dialq.CampaignLimitKey(c.ID))
	require.NoError(t, err)
	require.Equal(t, 3, held, "the limiter never let more than max_concurrency hold a slot")

	// The first pass starts a second's worth at once; the rate is the
	// spacing of the calls that follow it, over 15 s.
	list := s.campaignCalls(paced.ID)[2:]
	var window []*dialq.Call
	for _, call := range list {
		if call.CreatedAt.Sub(list[0].CreatedAt) <= 15*time.Second {
			window = append(window, call)
		}
	}
	span := window[len(window)-1].CreatedAt.Sub(window[0].CreatedAt)
	require.Greater(t, span, 14*time.Second)
	rate := float64(len(window)-1) / span.Seconds()
	t.Logf("campaign dial rate: %d calls in %s, %.3f calls/s (configured 2)", len(window), span.Round(time.Millisecond), rate)
	require.InDelta(t, 2.0, rate, 0.1, "within 5%%")
}

// A call asked for through the API does not wait behind a campaign: with
// every campaign slot of the worker taken by ringing campaign calls and
// more of them queued, the API's call is dialed and answered at once, on
// the dial queue's own slots.
func TestCampaignDoesNotDelayAPICalls(t *testing.T) {
	t.Parallel()
	const apiNumber = "+15550670000"
	s := newStack(t, stackOptions{campaigns: app.CampaignConfig{Concurrency: 2},
		script: sipdouble.ByNumber(map[string]sipdouble.Outcome{apiNumber: {Code: 200, RingFor: 100 * time.Millisecond}},
			sipdouble.Always(sipdouble.Outcome{Code: 486, RingFor: 8 * time.Second}))})
	c := s.campaign(dialq.CampaignSettings{CallsPerSecond: 20, MaxConcurrency: 10, AutoPause: dialq.AutoPause{Disabled: true}},
		campaignNumbers("+1555066", 10)...)
	campaignQueue := s.dial.CampaignQueueName()
	insp := s.inspector()
	waitFor(t, 10*time.Second, "the campaign's slots ringing and calls waiting behind them", func() bool {
		info, err := insp.GetQueueInfo(campaignQueue)
		return err == nil && info.Active == 2 && info.Pending >= 1 && dialed(s.campaignCalls(c.ID)) == 2
	})
	start := time.Now()
	r := s.do(http.MethodPost, "/call/outbound", s.body(apiNumber, "twilio", s.twilio))
	took := time.Since(start)
	t.Logf("API call answered in %s with the campaign's slots full", took.Round(time.Millisecond))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "answered", r.Body["data"].(map[string]any)["status"])
	require.Less(t, took, 3*time.Second, "the API call waited %s", took)
	info, err := insp.GetQueueInfo(campaignQueue)
	require.NoError(t, err)
	require.GreaterOrEqual(t, info.Pending, 1, "campaign calls were still waiting for a slot")
	require.Equal(t, 2, dialed(s.campaignCalls(c.ID)), "only the campaign's 2 slots dialed, still ringing")
}

// A campaign paused while one of its calls waits for its agent to join is
// not dialed either: the check runs again right before the dial, and the
// call's room (with the agent in it) is closed.
func TestCampaignPausedDuringTheAgentWait(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{agent: true, script: sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 100 * time.Millisecond})})
	c := s.campaign(dialq.CampaignSettings{}, "+15550680001")
	var call *dialq.Call
	waitFor(t, 10*time.Second, "the call's agent dispatched", func() bool {
		list := s.campaignCalls(c.ID)
		if len(list) == 1 && list[0].DispatchID != "" {
			call = list[0]
		}
		return call != nil
	})
	require.Equal(t, dialq.StatusQueued, call.Status, "still waiting for its agent")
	r := s.do(http.MethodPost, "/campaigns/"+c.ID.String()+"/pause", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	waitFor(t, 15*time.Second, "the call held", func() bool { return s.call(call.ID.String()).Status.Terminal() })
	got := s.call(call.ID.String())
	require.Equal(t, dialq.StatusCanceled, got.Status)
	require.Equal(t, "the campaign is paused", got.EndReason)
	require.Nil(t, got.DialedAt)
	require.Equal(t, 0, s.dialsTo("+15550680001"))
	ct := s.contactOf(c.ID, 1)
	require.Equal(t, dialq.ContactPending, ct.Status)
	require.Equal(t, 0, ct.Attempts)
	waitFor(t, 10*time.Second, "the held call's room closed", func() bool {
		rooms, err := s.rooms.ListRooms(context.Background(), &lkp.ListRoomsRequest{Names: []string{got.RoomName}})
		require.NoError(t, err)
		return len(rooms.Rooms) == 0
	})
}

// A trunk's max_concurrent_calls holds for a campaign and the API's calls
// together: with two lines, a campaign of six and two calls placed through
// the API while the campaign holds both, never more than two calls are on
// the trunk at once (the limiter's own count, and the calls' dial-to-end
// spans), and every call is dialed once and completes.
func TestTrunkCapSharedByCampaignAndAPICalls(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond},
		script: sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 100 * time.Millisecond, HangUpAfter: 1500 * time.Millisecond})})
	s.limitTrunk(dialq.CallLimits{MaxConcurrentCalls: 2})
	lim := limiter.New(testenv.Redis(t), limiter.Config{Prefix: s.limits.Prefix})
	key := dialq.TrunkLimitKey(s.twilio)
	watch := watchHolders(t, lim, key)

	numbers := campaignNumbers("+1555069", 6)
	c := s.campaign(dialq.CampaignSettings{CallsPerSecond: 10, MaxConcurrency: 10, AutoPause: dialq.AutoPause{Disabled: true}}, numbers...)
	waitFor(t, 10*time.Second, "the campaign holding both lines", func() bool { return dialed(s.campaignCalls(c.ID)) >= 2 })
	var apiCalls []string
	for _, n := range []string{"+15550691001", "+15550691002"} {
		r := s.do(http.MethodPost, "/call/outbound?wait=0", s.body(n, "twilio", s.twilio))
		require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
		apiCalls = append(apiCalls, r.Body["data"].(map[string]any)["call_id"].(string))
	}
	all := func() []*dialq.Call {
		list := s.campaignCalls(c.ID)
		for _, id := range apiCalls {
			list = append(list, s.call(id))
		}
		return list
	}
	waitFor(t, 45*time.Second, "every call over", func() bool { list := all(); return len(list) == 8 && over(list) })
	watch.close()
	peak, err := lim.Peak(context.Background(), key)
	require.NoError(t, err)
	require.Equal(t, 2, peak, "the limiter let at most two hold the trunk")

	// The calls' own spans, from their dial to their end, overlap at most
	// two deep.
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for _, call := range all() {
		require.Equal(t, dialq.StatusCompleted, call.Status, "call to %s: %s", call.ToNumber, call.EndReason)
		require.NotNil(t, call.DialedAt)
		require.Equal(t, 1, s.dialsTo(call.ToNumber), "%s dialed once", call.ToNumber)
		edges = append(edges, edge{*call.DialedAt, 1}, edge{*call.EndedAt, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.d - b.d // an end before a dial at the same instant
	})
	live, most := 0, 0
	for _, e := range edges {
		live += e.d
		most = max(most, live)
	}
	require.LessOrEqual(t, most, 2, "calls on the trunk at once")
	for _, id := range apiCalls {
		call := s.call(id)
		require.Equal(t, 1, s.kinds(call)["throttled"], "the API call waited for a line the campaign held, told once")
		require.Equal(t, 1, call.Attempts, "an API call waiting for a line is not a failed attempt")
	}
}

// A campaign through the Exotel bridge is retried by outcome as the SIP
// phone (sipp) answers: every INVITE refused 486 Busy Here, each contact
// is dialed once and retried twice, as its policy says, and ends busy.
func TestCampaignRetriesBusyThroughTheBridge(t *testing.T) {
	t.Parallel()
	phone := testenv.Sipp(t, testenv.SippOptions{Scenario: "../testkit/testenv/sipp/reject.xml.tmpl",
		Data: struct {
			Code   int
			Reason string
		}{486, "Busy Here"}})
	s := newStack(t, stackOptions{exotelPhone: phone})
	c := s.campaignOn(dialq.ServiceExotel, s.exotel, dialq.CampaignSettings{CallsPerSecond: 2,
		Retry: dialq.RetryPolicy{Busy: dialq.RetryRule{MaxRetries: 2, DelaySeconds: 1}}}, "+15550692001", "+15550692002")
	waitFor(t, 45*time.Second, "the campaign completed", func() bool {
		cp, err := s.db.FindCampaign(context.Background(), s.tenant, c.ID)
		require.NoError(t, err)
		return cp.Status == dialq.CampaignCompleted
	})
	calls := s.campaignCalls(c.ID)
	require.Len(t, calls, 6, "two contacts, three attempts each")
	for _, call := range calls {
		require.Equal(t, dialq.StatusBusy, call.Status)
		require.Equal(t, dialq.ServiceExotel, call.Service)
		require.Equal(t, 486, call.SIPStatusCode)
		require.Equal(t, "Busy Here", call.SIPStatus)
	}
	for line := int64(1); line <= 2; line++ {
		ct := s.contactOf(c.ID, line)
		require.Equal(t, dialq.ContactDone, ct.Status, "line %d", line)
		require.Equal(t, dialq.StatusBusy, ct.Outcome, "line %d", line)
		require.Equal(t, 3, ct.Attempts, "line %d", line)
	}
}
