// Package metrics owns every Prometheus family dialq exports: one Metrics
// per process, on a registry of its own (never the global one: the tests
// run several APIs and workers in one process), served at /metrics. The
// parts that count (the HTTP API, the store's status changes, the dialer,
// the webhook deliverer) are told a method of it; the bridge and the
// queues are read at scrape time by collectors of their own.
//
// Labels are of low cardinality only: routes, statuses, providers,
// reasons, queue names. Never a call id, a phone number or a tenant.
// docs/operations.md lists the families.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dialq/dialq/internal/dialq"
)

// Namespace starts the name of every family of dialq's own.
const Namespace = "dialq"

// Metrics is one process's families and the registry they are on. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	callStatuses *prometheus.CounterVec
	callsEnded   *prometheus.CounterVec
	answer       *prometheus.HistogramVec
	dialSteps    *prometheus.HistogramVec

	webhooks *prometheus.CounterVec
}

// New returns the families of a process, with the Go runtime's and the
// process's own (go_*, process_*) on the same registry.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by method, route (the route's pattern; unmatched for a path no route serves) and status code.",
	}, []string{"method", "route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method, route and status code. A waiting POST /call/outbound lasts until its call's outcome.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"method", "route", "code"})
	m.callStatuses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "call_status_changes_total",
		Help: "Calls that moved to a status (queued when accepted), by status and provider (twilio, exotel), counted by the process that recorded the change.",
	}, []string{"status", "provider"})
	m.callsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "calls_ended_total",
		Help: "Calls that reached a terminal status, by status, provider, who ended them (phone, agent, api, dialq) and failure reason (none for completed).",
	}, []string{"status", "provider", "ended_by", "reason"})
	m.answer = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "call_time_to_answer_seconds",
		Help:    "Time from the dial to the phone's answer, by provider.",
		Buckets: []float64{.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60},
	}, []string{"provider"})
	m.dialSteps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "dial_step_duration_seconds",
		Help: "Time each step of placing a call took in the worker: room (create the LiveKit room), dispatch (dispatch the agent), " +
			"dial (the SIP dial: to the answer through LiveKit SIP, to the INVITE handed over through dialq's bridge); by step, provider and result (ok, error).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60},
	}, []string{"step", "provider", "result"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "webhook_deliveries_total",
		Help: "Webhook delivery attempts, by result: delivered (a 2xx answer), retrying (failed; another attempt is scheduled), failed (failed; the last attempt).",
	}, []string{"result"})
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.callStatuses, m.callsEnded, m.answer, m.dialSteps, m.webhooks)
	return m
}

// Handler serves the registry in Prometheus's text format (and OpenMetrics
// to a scraper that asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// Registry is where the families are, for a test that gathers them.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Unmatched is the route label of a request no route served.
const Unmatched = "unmatched"

// ObserveRequest counts an HTTP request the API answered: route is the
// route's pattern (gin's FullPath), "" for none.
func (m *Metrics) ObserveRequest(method, route string, code int, d time.Duration) {
	if route == "" {
		route = Unmatched
	}
	c := strconv.Itoa(code)
	m.httpRequests.WithLabelValues(method, route, c).Inc()
	m.httpDuration.WithLabelValues(method, route, c).Observe(d.Seconds())
}

// CallMoved counts a status change the store recorded (postgres.CallMoves).
func (m *Metrics) CallMoved(mv dialq.CallMove) {
	provider := providerLabel(mv.Service)
	m.callStatuses.WithLabelValues(string(mv.To), provider).Inc()
	if mv.To == dialq.StatusAnswered && mv.Answer > 0 {
		m.answer.WithLabelValues(provider).Observe(mv.Answer.Seconds())
	}
	if e := mv.End; e != nil {
		reason := "none"
		if e.Failure != nil && e.Failure.Reason != "" {
			reason = string(e.Failure.Reason)
		}
		by := string(e.By)
		if by == "" {
			by = "unknown"
		}
		m.callsEnded.WithLabelValues(string(e.Status), provider, by, reason).Inc()
	}
}

// ObserveDialStep counts one step of placing a call (dialer.StepRoom,
// StepDispatch, StepDial), which took d and failed when err is not nil.
func (m *Metrics) ObserveDialStep(step string, service dialq.CallService, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.dialSteps.WithLabelValues(step, providerLabel(service), result).Observe(d.Seconds())
}

// ObserveWebhook counts one delivery attempt by its result
// (webhooks.AttemptDelivered, AttemptRetrying, AttemptFailed).
func (m *Metrics) ObserveWebhook(result string) {
	m.webhooks.WithLabelValues(result).Inc()
}

// providerLabel keeps the provider label to the call services dialq has:
// a value read from a row is never exported as it is.
func providerLabel(s dialq.CallService) string {
	switch s {
	case dialq.ServiceTwilio, dialq.ServiceExotel:
		return string(s)
	}
	return "unknown"
}
