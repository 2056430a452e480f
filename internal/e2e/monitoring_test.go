package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"

	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/testkit/testbrowser"
)

// TestMonitoringInBrowser: an operator opens Asynqmon in a real browser
// (headless Chromium). Without the admin login it is a 401; with it the
// queues page lists the test's queue, the queue its call's dial task, and
// the task its payload, result and last error, with the phone number cut to
// its last four digits and no secret on the page. The dashboard is
// read-only: a delete sent from the page is refused and the task stays.
// The screenshot of the task is kept in the test's artifact directory
// (go test -artifacts; make test keeps them under .dialq/test-artifacts).
func TestMonitoringInBrowser(t *testing.T) {
	t.Parallel()
	ctx := testbrowser.New(t, 90*time.Second) // first: no Chromium fails the test at once
	const user, password = "admin", "browser-Pa55word"
	const number = "+15550200731"
	s := newStack(t, stackOptions{noWorker: true,
		monitoring: &httpapi.MonitoringConfig{User: user, Password: password, ReadOnly: true}})
	// LiveKit's SIP service is over its CPU limit for the first dial
	// (DESIGN.md's table: no INVITE sent), so the task fails once with an
	// error naming the number and is retried; the retry answers.
	inner := s.sip
	var once sync.Once
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := false
		if strings.HasSuffix(r.URL.Path, "/CreateSIPParticipant") {
			once.Do(func() { first = true })
		}
		if first {
			twirp.WriteError(w, twirp.NewError(twirp.Unavailable, "twirp error unknown: cpu exhausted"))
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	s.sipURL = proxy.URL
	s.startWorker(stackOptions{})

	r := s.do(http.MethodPost, "/call/outbound", s.body(number, "twilio", s.twilio))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	insp := s.inspector()
	var info *asynq.TaskInfo
	waitFor(t, 10*time.Second, "the dial task completed", func() bool {
		var err error
		info, err = insp.GetTaskInfo(s.queue, id)
		require.NoError(t, err)
		return info.State == asynq.TaskStateCompleted
	})
	require.Equal(t, 1, info.Retried)
	require.Contains(t, info.LastErr, "dial "+number, "the worker's error names the number: what the dashboard must mask")
	require.Contains(t, info.LastErr, "cpu exhausted")

	base := s.apiURL + httpapi.MonitoringPath
	prompt := testbrowser.AnswerLogins(t, ctx, s.apiURL+"/*")

	// No login: the browser prompts for one; cancelled, it shows the 401.
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/"))
	require.NoError(t, err)
	require.EqualValues(t, http.StatusUnauthorized, resp.Status)
	require.Len(t, prompt.Challenges(), 1)
	require.Equal(t, "basic", prompt.Challenges()[0].Scheme)
	require.Equal(t, "dialq monitoring", prompt.Challenges()[0].Realm)
	page := bodyText(t, ctx)
	require.Contains(t, page, "The dashboard needs the admin login")
	require.NotContains(t, page, s.queue)

	// The admin login, as typed into the prompt: the queues page lists the
	// test's queue, with its one completed task.
	prompt.LogIn(user, password)
	browse(t, ctx, "open the queues page", chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`//table[@aria-label="queues overview table"]`))
	browse(t, ctx, "open the queue", chromedp.Click(fmt.Sprintf(`//table[@aria-label="queues overview table"]//a[text()=%q]`, s.queue)),
		chromedp.WaitVisible(`//*[text()="Queue name"]`))
	browse(t, ctx, "show its completed tasks", chromedp.Click(`//*[@role="button"][starts-with(normalize-space(.), "Completed")]`),
		chromedp.WaitVisible(fmt.Sprintf(`//table[@aria-label="completed tasks table"]//th[contains(., %q)]`, id[:8])))
	page = bodyText(t, ctx)
	require.Contains(t, page, id, "the task's payload: its call id")
	require.Contains(t, page, `"status": "answered"`, "the task's result")
	// Read-only: no selection, no actions offered on the tasks.
	for _, sel := range []string{`//th[text()="Actions"]`, `//input[@aria-label="select all tasks shown in the table"]`} {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(
			`document.evaluate(%q, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null).snapshotLength`, sel)))
		require.NoError(t, err)
		require.Zero(t, n, "a read-only dashboard shows no %s", sel)
	}

	// The task: payload, result and last error, the number masked.
	browse(t, ctx, "open the task", chromedp.Click(fmt.Sprintf(`//table[@aria-label="completed tasks table"]//tr[contains(., %q)]`, id[:8])),
		chromedp.WaitVisible(`//*[text()="Result:"]`))
	page = bodyText(t, ctx)
	t.Logf("task page:\n%s", page)
	for _, want := range []string{"call:dial", "completed", "Payload:", `"call_id": "` + id + `"`,
		"Result:", `"status": "answered"`, `"room_name": "`, "Last Failure:",
		"dial ********0731 through trunk " + s.twilio, "cpu exhausted"} {
		require.Contains(t, page, want)
	}
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	require.NoError(t, err)
	for name, secret := range map[string]string{"phone number": number, "its last ten digits": number[2:],
		"API key": s.key, "admin password": password, "DIALQ_SECRET_KEY": s.secretKey} {
		require.NotContains(t, page, secret, "the task page shows the %s", name)
		require.NotContains(t, html, secret, "the task page holds the %s", name)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // PNG, the whole page
	require.NoError(t, err)
	path := filepath.Join(t.ArtifactDir(), "asynqmon-task.png")
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("screenshot of the task page: %s", path)

	// A delete sent from the page, as its delete button would (it has
	// none): Asynqmon's read-only mode refuses it, and the task stays.
	type answer struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	del, err := chromedp.Run(ctx, chromedp.Evaluate[answer](fmt.Sprintf(`
		fetch(%q, {method: "DELETE"}).then(async r => ({status: r.status, body: await r.text()}))`,
		httpapi.MonitoringPath+"/api/queues/"+url.PathEscape(s.queue)+"/completed_tasks/"+id), chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, http.StatusMethodNotAllowed, del.Status, del.Body)
	require.Contains(t, del.Body, "read-only mode")
	info, err = insp.GetTaskInfo(s.queue, id)
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStateCompleted, info.State, "the task is still there")
}

// browse runs the steps of one thing an operator does on the page, and
// fails the test naming it, with what the page shows, if it does not happen
// within 30 s (a page of Asynqmon's loads in well under a second on a quiet
// machine; make test runs it beside everything else).
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("%s: %v; the page shows:\n%s", what, err, bodyText(t, ctx))
	}
}

// bodyText is the text the page shows.
func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text("body"))
	require.NoError(t, err)
	return text
}
