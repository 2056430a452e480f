// Package health answers the probes of both binaries: /healthz (the
// process is alive: it checks nothing else) and /readyz (what the process
// needs answers: Postgres, Redis, LiveKit). The callers of these are not
// authenticated, so an answer names each check, its result and how long it
// took, never why it failed: that goes to the log.
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dialq/dialq/internal/dialq"
)

// DefaultTimeout bounds each check: a dependency that stopped answering
// turns /readyz 503 within it, well inside a probe's own timeout.
const DefaultTimeout = time.Second

// Check is one dependency /readyz asks about.
type Check struct {
	// Name is what the answer calls it: postgres, redis, livekit.
	Name string
	// Run returns nil when the dependency answers; it must honor ctx.
	Run func(ctx context.Context) error
}

// Results of a check and of the whole.
const (
	StatusOK          = "ok"
	StatusUnavailable = "unavailable"
	StatusReady       = "ready"
)

// Result is one check's part of a Report.
type Result struct {
	Name string `json:"name"`
	// Status is StatusOK or StatusUnavailable.
	Status string `json:"status"`
	// LatencyMS is how long the check took, in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
}

// Report is the body of /readyz (the data of its 503 answer).
type Report struct {
	// Status is StatusReady when every check passed, else
	// StatusUnavailable.
	Status string   `json:"status"`
	Checks []Result `json:"checks"`
}

// Ready reports whether every check passed.
func (r Report) Ready() bool { return r.Status == StatusReady }

// Failed names the checks that did not pass, in order.
func (r Report) Failed() []string {
	var names []string
	for _, c := range r.Checks {
		if c.Status != StatusOK {
			names = append(names, c.Name)
		}
	}
	return names
}

// Checker runs a process's checks.
type Checker struct {
	checks  []Check
	timeout time.Duration
	log     *slog.Logger
}

// New returns a checker of checks, each given timeout (DefaultTimeout when
// zero). A failed check's error is logged to log with the check's name.
func New(log *slog.Logger, timeout time.Duration, checks ...Check) *Checker {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if log == nil {
		log = slog.Default()
	}
	return &Checker{checks: checks, timeout: timeout, log: log}
}

// Check runs every check at once, each within the checker's timeout, and
// reports them in the order they were given.
func (c *Checker) Check(ctx context.Context) Report {
	results := make([]Result, len(c.checks))
	var wg sync.WaitGroup
	for i, ch := range c.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.run(ctx, ch)
		}()
	}
	wg.Wait()
	r := Report{Status: StatusReady, Checks: results}
	if len(r.Failed()) > 0 {
		r.Status = StatusUnavailable
	}
	return r
}

func (c *Checker) run(ctx context.Context, ch Check) Result {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	// A check that ignores its context must not hold the answer past the
	// timeout.
	errc := make(chan error, 1)
	go func() { errc <- ch.Run(ctx) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	res := Result{Name: ch.Name, Status: StatusOK, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		c.log.Warn("readiness check failed", "check", ch.Name, "err", err, "latency", time.Since(start))
		res.Status = StatusUnavailable
	}
	return res
}

// Alive is GET /healthz: 200 {"status":"ok"} while the process serves
// HTTP at all.
func Alive(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": StatusOK})
}

// notReady is the 503 body of /readyz: the API's error shape (success,
// message, error.code) with the report as its data, the same on both
// binaries.
type notReady struct {
	Success bool        `json:"success"`
	Message string      `json:"message"`
	Error   errorDetail `json:"error"`
	Data    Report      `json:"data"`
}

type errorDetail struct {
	Code string `json:"code"`
}

// ServeHTTP is GET /readyz: 200 with the Report when every check passed,
// else 503 (with Retry-After) in the API's error shape, the Report as its
// data.
func (c *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := c.Check(r.Context())
	if rep.Ready() {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusServiceUnavailable, notReady{
		Message: "Not ready: " + strings.Join(rep.Failed(), ", ") + " unavailable.",
		Error:   errorDetail{Code: dialq.EUNAVAILABLE},
		Data:    rep,
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
