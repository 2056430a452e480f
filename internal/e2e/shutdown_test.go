package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// The graceful lifecycle on SIGTERM, sent to real API and worker processes
// (docs/architecture.md, Shutdown).

// process is a binary of the stack running as its own process.
type process struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// requireShutdownSteps checks the process logged the steps of its
// shutdown in this order, and logs them.
func (p *process) requireShutdownSteps(t *testing.T, steps ...string) {
	t.Helper()
	b, err := os.ReadFile(p.log)
	require.NoError(t, err)
	out := string(b)
	at := 0
	for _, step := range steps {
		i := strings.Index(out[at:], step)
		require.GreaterOrEqual(t, i, 0, "%q logged after the steps before it:\n%s", step, out[at:])
		at += i + len(step)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "shut") || strings.Contains(line, "drain") {
			t.Log(line)
		}
	}
}

// start runs bin with the environment env (over the test's own) until the
// test ends, its output in a log shown if the test fails.
func start(t *testing.T, name, bin string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, log: log.Name(), exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return p
}

// terminate sends SIGTERM and returns how long the process took to exit;
// it fails the test if that is more than limit or the exit is not clean.
func (p *process) terminate(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	sent := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
	case <-time.After(limit):
		t.Fatalf("still running %s after SIGTERM", limit)
	}
	took := time.Since(sent)
	require.NoError(t, p.err, "exit status after SIGTERM")
	return took
}

// startAPIProcess runs cmd/api on addr against this stack.
func (s *stack) startAPIProcess(t *testing.T, addr string, env ...string) *process {
	t.Helper()
	p := start(t, "api", buildCmd(t, "api"), append([]string{
		"DATABASE_URL=" + s.dsn,
		"DIALQ_MIGRATE=false",
		"DIALQ_API_ADDR=" + addr,
		"DIALQ_QUEUE=" + s.queue,
		"DIALQ_NOTIFY_CHANNEL=" + s.channels.Notify,
		"DIALQ_HANGUP_CHANNEL=" + s.channels.Hangup,
		"DIALQ_SECRET_KEY=" + s.secretKey,
		"DIALQ_WEBHOOK_ALLOW_PRIVATE=true",
		"DIALQ_LOG_LEVEL=debug",
	}, env...)...)
	waitFor(t, 30*time.Second, "the API process answering", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// startWorkerProc runs cmd/worker against this stack, with env
// (NAME=value) over its settings; its log is shown when the test fails.
func (s *stack) startWorkerProc(t *testing.T, env ...string) *process {
	t.Helper()
	return start(t, "worker", buildWorker(t), append([]string{
		"DATABASE_URL=" + s.dsn,
		"DIALQ_MIGRATE=false",
		"LIVEKIT_SIP_URL=" + s.sipURL,
		"DIALQ_QUEUE=" + s.queue,
		"DIALQ_NOTIFY_CHANNEL=" + s.channels.Notify,
		"DIALQ_HANGUP_CHANNEL=" + s.channels.Hangup,
		"DIALQ_LIMIT_PREFIX=" + s.limits.Prefix,
		"DIALQ_SECRET_KEY=" + s.secretKey,
		"DIALQ_PUBLIC_URL=" + s.apiURL,
		"DIALQ_RETRY_BASE=100ms",
		"DIALQ_SWEEP_AGE=10m",
		"DIALQ_WEBHOOK_ALLOW_PRIVATE=true",
		"DIALQ_BRIDGE=false",
		"DIALQ_WORKER_HTTP_ADDR=127.0.0.1:0", // tests run side by side
		"DIALQ_LOG_LEVEL=debug",
	}, env...)...)
}

// workerShutdownSteps are the worker's shutdown log lines, in their order
// (docs/architecture.md, Shutdown).
var workerShutdownSteps = []string{"shutting down: the campaign scheduler stops placing calls", "shutdown: campaign scheduler stopped",
	"shutdown: task servers stopped", "shutdown: drained", "shutdown: background services stopped"}

// TestAPIShutdownAnswersTheWaitingRequest: SIGTERM to the API while a
// POST /call/outbound?wait=30 waits on a ringing phone. The request gets
// its 202 with the call id at once, the process exits within
// DIALQ_API_SHUTDOWN_TIMEOUT, and the worker still dials the call to its
// end: nothing accepted is lost.
func TestAPIShutdownAnswersTheWaitingRequest(t *testing.T) {
	t.Parallel()
	const limit = 5 * time.Second
	s := newStack(t, stackOptions{reconcile: app.ReconcileConfig{Interval: 300 * time.Millisecond},
		script: sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 3 * time.Second, HangUpAfter: time.Second})})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	api := s.startAPIProcess(t, addr, "DIALQ_API_SHUTDOWN_TIMEOUT="+limit.String())

	type answer struct {
		status   int
		location string
		body     map[string]any
		err      error
	}
	answered := make(chan answer, 1)
	go func() {
		var a answer
		defer func() { answered <- a }()
		b, _ := json.Marshal(s.body("+15550700001", "twilio", s.twilio))
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/call/outbound?wait=30", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if a.err = err; err != nil {
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		a.status, a.location = resp.StatusCode, resp.Header.Get("Location")
		a.err = json.Unmarshal(raw, &a.body)
	}()
	waitFor(t, 20*time.Second, "the phone ringing", func() bool {
		calls := s.sip.Calls()
		return len(calls) == 1 && calls[0].CallStatus == sipdouble.CallStatusRinging
	})

	sent := time.Now()
	require.NoError(t, api.cmd.Process.Signal(syscall.SIGTERM))
	var a answer
	select {
	case a = <-answered:
	case <-time.After(3 * time.Second):
		t.Fatal("the waiting request got no answer within 3 s of SIGTERM")
	}
	answeredIn := time.Since(sent)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusAccepted, a.status, "%v", a.body)
	data := a.body["data"].(map[string]any)
	id := data["call_id"].(string)
	require.Equal(t, "/call/"+id, a.location)
	require.Contains(t, []any{"dialing", "ringing"}, data["status"], "the call as it stands")
	select {
	case <-api.exited:
	case <-time.After(limit + 2*time.Second):
		t.Fatalf("the API still runs %s after SIGTERM (DIALQ_API_SHUTDOWN_TIMEOUT=%s)", limit+2*time.Second, limit)
	}
	require.NoError(t, api.err, "exit status after SIGTERM")
	api.requireShutdownSteps(t, "shutting down: no new connections", "api stopped")
	t.Logf("answered %s and exited %s after SIGTERM", answeredIn.Round(time.Millisecond), time.Since(sent).Round(time.Millisecond))
	_, err := http.Get("http://" + addr + "/healthz")
	require.Error(t, err, "no API listens after the exit")

	// The worker goes on with the call.
	waitFor(t, 30*time.Second, "the call completed", func() bool { return s.call(id).Status == dialq.StatusCompleted })
	require.Equal(t, 1, s.dialsTo("+15550700001"))
}

// TestWorkerShutdownFinishesTheWebhookInFlight: SIGTERM to a worker while
// it sends a webhook to a slow receiver. The request is not cut: the
// receiver answers, the attempt is recorded once as delivered, the worker
// exits after it; a fresh worker sends the call's other webhooks, each
// once.
func TestWorkerShutdownFinishesTheWebhookInFlight(t *testing.T) {
	t.Parallel()
	const slow = 3 * time.Second
	s := newStack(t, stackOptions{noWorker: true, script: sipdouble.Always(sipdouble.Outcome{Code: 486, RingFor: 100 * time.Millisecond})})

	var mu sync.Mutex
	got := map[string]int{} // webhook-id → requests
	var types []string
	inFlight := make(chan struct{})
	var once sync.Once
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			return // newReceiver's probe
		}
		var ev struct {
			Type string `json:"type"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &ev)
		first := false
		once.Do(func() { first = true; close(inFlight) })
		if first {
			time.Sleep(slow) // the worker gets its SIGTERM meanwhile
		}
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		types = append(types, ev.Type)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	ep := s.do(http.MethodPost, "/webhooks", map[string]any{"url": rc + "/dialq"})
	require.Equal(t, http.StatusCreated, ep.Status, ep.Raw)

	w1 := s.startWorkerProc(t, "DIALQ_SHUTDOWN_TIMEOUT=20s", "DIALQ_WEBHOOK_SWEEP_AGE=1s")
	r := s.do(http.MethodPost, "/call/outbound?wait=0", s.body("+15550700101", "twilio", s.twilio))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	id := r.Body["data"].(map[string]any)["call_id"].(string)
	select {
	case <-inFlight:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook reached the receiver in 30 s")
	}
	took := w1.terminate(t, 25*time.Second)
	t.Logf("the worker exited %s after SIGTERM", took.Round(time.Millisecond))
	w1.requireShutdownSteps(t, workerShutdownSteps...)
	require.Greater(t, took, slow-500*time.Millisecond, "the worker waited for the request in flight")

	mu.Lock()
	first := types[0]
	mu.Unlock()
	deliveries := s.do(http.MethodGet, "/call/"+id+"/webhooks", nil)
	require.Equal(t, http.StatusOK, deliveries.Status, deliveries.Raw)
	var sent map[string]any
	for _, d := range deliveries.Body["data"].([]any) {
		if d := d.(map[string]any); d["event_type"] == first {
			sent = d
		}
	}
	require.NotNil(t, sent, "the delivery of %s: %s", first, deliveries.Raw)
	require.Equal(t, "delivered", sent["status"], "%v", sent)
	require.Len(t, sent["attempts"], 1, "one attempt, recorded once: %v", sent)

	// A fresh worker sends the rest, each once.
	s.startWorkerProc(t, "DIALQ_WEBHOOK_SWEEP_AGE=1s")
	waitFor(t, 30*time.Second, "the call over and every webhook delivered", func() bool {
		if !s.call(id).Status.Terminal() {
			return false
		}
		d := s.do(http.MethodGet, "/call/"+id+"/webhooks", nil)
		for _, x := range d.Body["data"].([]any) {
			if x.(map[string]any)["status"] != "delivered" {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("webhooks received: %v", types)
	for wid, n := range got {
		require.Equal(t, 1, n, "webhook %s received %d times", wid, n)
	}
	require.Equal(t, "call.busy", types[len(types)-1])
}

// newReceiver serves h on a loopback port until the test ends and returns
// its URL.
func newReceiver(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.ListenAndServe()
	t.Cleanup(func() { srv.Close() })
	waitFor(t, 5*time.Second, "the receiver listening", func() bool {
		resp, err := http.Get("http://" + addr + "/up")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return "http://" + addr
}

// TestWorkerShutdownMidCampaign: SIGTERM to the only worker while it dials
// a campaign. It exits within its limit leaving no contact claimed as
// calling without its call stored and its dial task queued (or the call
// over); a fresh worker finishes the campaign and no number is dialed
// twice.
func TestWorkerShutdownMidCampaign(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{noWorker: true,
		script: sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 300 * time.Millisecond, HangUpAfter: 300 * time.Millisecond})})
	env := []string{"DIALQ_SHUTDOWN_TIMEOUT=20s", "DIALQ_CAMPAIGN_TICK=100ms", "DIALQ_RECONCILE_INTERVAL=300ms"}
	w1 := s.startWorkerProc(t, env...)
	numbers := campaignNumbers("+1555072", 30)
	c := s.campaign(dialq.CampaignSettings{CallsPerSecond: 5, MaxConcurrency: 3}, numbers...)

	waitFor(t, 30*time.Second, "the campaign dialing", func() bool { return dialed(s.campaignCalls(c.ID)) >= 4 })
	took := w1.terminate(t, 25*time.Second)
	t.Logf("the worker exited %s after SIGTERM with %d calls placed", took.Round(time.Millisecond), len(s.campaignCalls(c.ID)))
	w1.requireShutdownSteps(t, workerShutdownSteps...)

	ins := s.inspector()
	pending := 0
	for i := range numbers {
		ct := s.contactOf(c.ID, int64(i+1)) // a JSON contact's line is its position
		switch ct.Status {
		case dialq.ContactCalling:
			require.NotNil(t, ct.CallID, "contact %d is calling with no call", ct.Line)
			call := s.call(ct.CallID.String())
			if !call.Status.Terminal() {
				_, err := ins.GetTaskInfo(s.dial.CampaignQueueName(), call.ID.String())
				require.NoError(t, err, "contact %d is calling, its call %s is %s with no dial task", ct.Line, call.ID, call.Status)
			}
		case dialq.ContactPending:
			pending++
		}
	}
	require.Greater(t, pending, 0, "the test stopped the worker mid-campaign")

	s.startWorkerProc(t, env...)
	waitFor(t, 60*time.Second, "the campaign completed by a fresh worker", func() bool {
		r := s.do(http.MethodGet, "/campaigns/"+c.ID.String(), nil)
		return r.Status == http.StatusOK && r.Body["data"].(map[string]any)["status"] == "completed"
	})
	for _, n := range numbers {
		require.Equal(t, 1, s.dialsTo(n), "%s", n)
	}
}
