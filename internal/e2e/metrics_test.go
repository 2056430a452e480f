package e2e

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// TestMetricsAfterACall: after one Exotel call through the bridge (audio both
// ways, a webhook endpoint, hung up through the API), /metrics on the API and
// on the worker's own port show every family docs/operations.md lists, each
// with a sample of that call, and no label value is a phone number or an id.
func TestMetricsAfterACall(t *testing.T) {
	t.Parallel()
	phone := testenv.Sipp(t, testenv.SippOptions{Scenario: "../../deploy/sipp/exotel-phone.xml", Args: []string{"-rtp_echo"}})
	s := newStack(t, stackOptions{exotelPhone: phone, agent: true})
	require.NotEmpty(t, s.workerHTTP, "the worker serves its metrics")

	var delivered atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	ep := s.do(http.MethodPost, "/webhooks", map[string]any{"url": rc.URL + "/dialq"})
	require.Equal(t, http.StatusCreated, ep.Status, ep.Raw)

	const number = "+918044319240"
	r := s.do(http.MethodPost, "/call/outbound", s.body(number, "exotel", s.exotel))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	callID, room := data["call_id"].(string), data["room_name"].(string)

	a := testroom.Join(t, s.lk, room, "phone-"+number)
	a.Speak(440)
	a.AwaitFrames("loud audio from the phone", 0, 25, testroom.Loud)
	waitFor(t, 10*time.Second, "call answered", func() bool { return s.call(callID).Status == dialq.StatusAnswered })

	// While the call is bridged: one live call, frames both ways.
	live := scrape(t, s.workerHTTP)
	require.Equal(t, 1.0, value(t, live, "dialq_bridge_calls", nil), "one call bridged now")
	require.Greater(t, value(t, live, "dialq_bridge_rtp_packets_in_total", nil), 0.0, "RTP from the phone")
	require.Greater(t, value(t, live, "dialq_bridge_rtp_packets_out_total", nil), 0.0, "RTP to the phone")
	require.GreaterOrEqual(t, value(t, live, "dialq_bridge_send_jitter_seconds", nil), 0.0)
	require.Greater(t, value(t, live, "dialq_bridge_send_jitter_seconds", nil)+value(t, live, "dialq_bridge_send_jitter_max_seconds", nil), 0.0,
		"frames to the phone go out a little behind their schedule, never exactly on it")

	h := s.do(http.MethodPost, "/call/"+callID+"/hangup", nil)
	require.Equal(t, http.StatusOK, h.Status, h.Raw)
	require.Equal(t, "completed", h.Body["data"].(map[string]any)["status"])
	require.Equal(t, http.StatusNotFound, s.do(http.MethodGet, "/no-such-endpoint", nil).Status)
	waitFor(t, 20*time.Second, "the call.completed webhook", func() bool {
		return strings.Contains(s.do(http.MethodGet, "/call/"+callID+"/webhooks", nil).Raw, `"call.completed"`) && delivered.Load() > 0
	})

	// The queue reading is cached for a few seconds: wait for one that saw
	// the call's dial task done.
	var worker map[string]*dto.MetricFamily
	waitFor(t, 15*time.Second, "the worker's metrics of the ended call", func() bool {
		worker = scrape(t, s.workerHTTP)
		return sum(worker, "dialq_queue_processed_total", map[string]string{"queue": s.queue}) >= 1 &&
			sum(worker, "dialq_webhook_deliveries_total", map[string]string{"result": "delivered"}) >= 1 &&
			sum(worker, "dialq_bridge_calls_ended_total", nil) >= 1
	})
	api := scrape(t, s.apiURL)

	// The API: requests by route and code, latency; the call accepted.
	requireSample(t, api, "dialq_http_requests_total", map[string]string{"method": "POST", "route": "/call/outbound", "code": "200"})
	requireSample(t, api, "dialq_http_requests_total", map[string]string{"method": "POST", "route": "/call/:id/hangup", "code": "200"})
	requireSample(t, api, "dialq_http_requests_total", map[string]string{"method": "GET", "route": "unmatched", "code": "404"})
	requireSample(t, api, "dialq_http_request_duration_seconds", map[string]string{"method": "POST", "route": "/call/outbound", "code": "200"})
	requireSample(t, api, "dialq_call_status_changes_total", map[string]string{"status": "queued", "provider": "exotel"})
	requireSample(t, api, "go_goroutines", nil)

	// The worker: the call's way through the statuses, its end, the dial
	// steps and the answer; the bridge; the webhook; the queues.
	for _, st := range []string{"dialing", "ringing", "answered", "completed"} {
		requireSample(t, worker, "dialq_call_status_changes_total", map[string]string{"status": st, "provider": "exotel"})
	}
	requireSample(t, worker, "dialq_calls_ended_total", map[string]string{"status": "completed", "provider": "exotel", "ended_by": "api", "reason": "none"})
	requireSample(t, worker, "dialq_call_time_to_answer_seconds", map[string]string{"provider": "exotel"})
	for _, step := range []string{"room", "dispatch", "dial"} {
		requireSample(t, worker, "dialq_dial_step_duration_seconds", map[string]string{"step": step, "provider": "exotel", "result": "ok"})
	}
	require.Equal(t, 0.0, value(t, worker, "dialq_bridge_calls", nil), "the call is over")
	for _, name := range []string{"dialq_bridge_rtp_packets_in_total", "dialq_bridge_rtp_packets_out_total", "dialq_bridge_calls_ended_total"} {
		requireSample(t, worker, name, nil)
	}
	// What a healthy call may have none of is there, counted from 0.
	for _, name := range []string{"dialq_bridge_rtp_late_frames_total", "dialq_bridge_rtp_packets_dropped_total", "dialq_bridge_rtp_skipped_frames_total"} {
		require.GreaterOrEqual(t, value(t, worker, name, nil), 0.0, name)
	}
	require.Greater(t, value(t, worker, "dialq_bridge_send_jitter_max_seconds", nil), 0.0)
	requireSample(t, worker, "dialq_webhook_deliveries_total", map[string]string{"result": "delivered"})
	requireSample(t, worker, "dialq_queue_processed_total", map[string]string{"queue": s.queue})
	for _, name := range []string{"dialq_queue_size", "dialq_queue_latency_seconds", "dialq_queue_failed_total", "dialq_queue_paused", "dialq_queue_memory_bytes"} {
		require.GreaterOrEqual(t, value(t, worker, name, map[string]string{"queue": s.queue}), 0.0, name)
	}
	requireSample(t, worker, "dialq_queue_tasks", map[string]string{"queue": s.queue, "state": "retry"})
	requireSample(t, worker, "dialq_queue_tasks", map[string]string{"queue": s.queue, "state": "completed"})
	requireSample(t, worker, "dialq_queue_stats_age_seconds", nil)

	// Low cardinality: no label value is a number, an id, the room.
	phoneLike := regexp.MustCompile(`\+?\d{7,}`)
	uuidLike := regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	for who, fams := range map[string]map[string]*dto.MetricFamily{"api": api, "worker": worker, "worker (live)": live} {
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					v := l.GetValue()
					require.False(t, phoneLike.MatchString(v), "%s: %s{%s=%q} looks like a phone number", who, name, l.GetName(), v)
					require.False(t, uuidLike.MatchString(v), "%s: %s{%s=%q} looks like an id", who, name, l.GetName(), v)
					require.NotContains(t, v, room, "%s: %s{%s} holds the room", who, name, l.GetName())
					require.NotContains(t, v, "8044319240", "%s: %s{%s} holds the number", who, name, l.GetName())
				}
			}
		}
	}
}

// scrape reads base's /metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// samples are the samples of family name whose labels include want.
func samples(fams map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	f, ok := fams[name]
	if !ok {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if have[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// metricValue is a sample's value: a histogram's count.
func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// sum adds the values of the matching samples.
func sum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	total := 0.0
	for _, m := range samples(fams, name, want) {
		total += metricValue(m)
	}
	return total
}

// value is the one matching sample's value.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	ms := samples(fams, name, want)
	require.Len(t, ms, 1, "one sample of %s%v", name, want)
	return metricValue(ms[0])
}

// requireSample: family name has a sample with labels want, counting at
// least one thing (a histogram at least one observation).
func requireSample(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) {
	t.Helper()
	_, ok := fams[name]
	require.True(t, ok, "family %s is exported", name)
	ms := samples(fams, name, want)
	require.NotEmpty(t, ms, "%s has a sample with %v", name, want)
	if f := fams[name]; f.GetType() == dto.MetricType_COUNTER || f.GetType() == dto.MetricType_HISTOGRAM {
		require.Greater(t, sum(fams, name, want), 0.0, "%s%v counted the call", name, want)
	}
}
