package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// stats summarizes one measured window.
type stats struct {
	Requests int           `json:"requests"` // completed in the window, any outcome
	Errors   int           `json:"errors"`   // wrong status, transport error or failed call
	Window   time.Duration `json:"window_ns"`
	RPS      float64       `json:"rps"` // successful requests per second
	P50      time.Duration `json:"p50_ns"`
	P90      time.Duration `json:"p90_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
	// FirstError describes the first failure seen, if any.
	FirstError string `json:"first_error,omitempty"`
	CPU        cpuUse `json:"cpu"`
	// SendLagP99 is how late the open-loop generator sent its requests
	// (p99), to show it kept to its schedule.
	SendLagP99 time.Duration `json:"send_lag_p99_ns,omitempty"`

	samples []time.Duration // sorted latencies of the successful requests
}

// summarize computes percentiles of the successful requests' latencies.
func summarize(ok []time.Duration, errs int, window time.Duration, firstErr string) stats {
	slices.Sort(ok)
	s := stats{Requests: len(ok) + errs, Errors: errs, Window: window, FirstError: firstErr, samples: ok}
	if window > 0 {
		s.RPS = float64(len(ok)) / window.Seconds()
	}
	s.P50, s.P90, s.P99 = percentile(ok, 50), percentile(ok, 90), percentile(ok, 99)
	if len(ok) > 0 {
		s.Max = ok[len(ok)-1]
	}
	return s
}

func (s stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%.0f/s  p50 %s  p99 %s  errors %d", s.RPS, ms(s.P50), ms(s.P99), s.Errors)
	if s.SendLagP99 > 0 {
		fmt.Fprintf(&b, "  send lag p99 %s", ms(s.SendLagP99))
	}
	if c := s.CPU; c.Procs != nil {
		fmt.Fprintf(&b, "  cpu %%: machine %.0f", c.Machine)
		for _, name := range slices.Sorted(maps.Keys(c.Procs)) {
			fmt.Fprintf(&b, " %s %.0f", name, c.Procs[name])
		}
	}
	if s.FirstError != "" {
		fmt.Fprintf(&b, "\n  first error: %s", s.FirstError)
	}
	return b.String()
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// round is one measured window of one arm of (a) or (b).
type round struct {
	Arm   string        `json:"arm"`              // dialq, reference or direct
	TCI   time.Duration `json:"tci_ns,omitempty"` // the worker's TaskCheckInterval in (b)'s dialq arm
	Round int           `json:"round"`
	stats
}

func (r round) label() string {
	if r.TCI > 0 {
		return fmt.Sprintf("%s@%s", r.Arm, r.TCI)
	}
	return r.Arm
}

func (r round) String() string { return fmt.Sprintf("round %d %-12s %s", r.Round, r.label(), r.stats) }

// alternate runs measure on each arm once a round, for n rounds: in the
// arms' order on odd rounds and in the reverse order on even ones, so that
// no arm always runs first.
func alternate(n int, arms []round, measure func(round) error) error {
	for r := 1; r <= n; r++ {
		for k := range arms {
			arm := arms[k]
			if r%2 == 0 {
				arm = arms[len(arms)-1-k]
			}
			arm.Round = r
			if err := measure(arm); err != nil {
				return fmt.Errorf("%s round %d: %w", arm.label(), r, err)
			}
		}
	}
	return nil
}

// window tracks a load generator's measured window: the outcome of each
// request that ends in it, and the CPU of the processes cpu names over it.
type window struct {
	mu       sync.Mutex
	ok       []time.Duration
	lags     []time.Duration
	errs     int
	firstErr string
	cpu      *cpuWatch
}

func (w *window) add(lat time.Duration, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.ok = append(w.ok, lat)
		return
	}
	w.errs++
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
}

func (w *window) startCPU(pids map[string]int) {
	if pids != nil {
		w.cpu = watchCPU(pids)
	}
}

func (w *window) stats(d time.Duration) stats {
	s := summarize(w.ok, w.errs, d, w.firstErr)
	if w.cpu != nil {
		s.CPU = w.cpu.stop()
	}
	return s
}

// closedLoop is a closed-loop HTTP load generator: Conns keep-alive
// connections, each sending the next request as soon as the previous answer
// is read, for Warmup (not recorded) and then Duration (recorded). Requests
// are written as prepared bytes and answers parsed by net/http, which keeps
// the generator's own CPU cost low on a machine it shares with the servers.
type closedLoop struct {
	Addr       string // host:port
	Request    []byte // one complete HTTP/1.1 request
	WantStatus int
	Conns      int
	Warmup     time.Duration
	Duration   time.Duration
	// CPU, if set, names the processes whose CPU the recorded window
	// measures.
	CPU map[string]int
}

func (cl closedLoop) run(ctx context.Context) (stats, error) {
	from := time.Now().Add(cl.Warmup)
	until := from.Add(cl.Duration)
	var w window
	record := func(t time.Time, lat time.Duration, err error) {
		if !t.Before(from) && t.Before(until) {
			w.add(lat, err)
		}
	}
	started := make(chan struct{})
	go func() {
		defer close(started)
		if sleep(ctx, time.Until(from)) == nil {
			w.startCPU(cl.CPU)
		}
	}()
	var wg sync.WaitGroup
	fatal := make(chan error, cl.Conns)
	for range cl.Conns {
		wg.Go(func() {
			var conn net.Conn
			var br *bufio.Reader
			var lastErr error
			for redials := 0; ctx.Err() == nil && time.Now().Before(until); {
				if conn == nil {
					if redials++; redials > 50 {
						fatal <- fmt.Errorf("connection to %s keeps failing: %v", cl.Addr, lastErr)
						return
					}
					c, err := net.DialTimeout("tcp", cl.Addr, 5*time.Second)
					if lastErr = err; err != nil {
						record(time.Now(), 0, err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 16<<10)
				}
				t0 := time.Now()
				_ = conn.SetDeadline(t0.Add(30 * time.Second))
				status, body, err := roundTrip(conn, br, cl.Request)
				t1 := time.Now()
				if err != nil {
					lastErr = err
					conn.Close()
					conn = nil
				} else if status != cl.WantStatus {
					err = fmt.Errorf("status %d: %s", status, body)
				}
				record(t1, t1.Sub(t0), err)
			}
			if conn != nil {
				conn.Close()
			}
		})
	}
	wg.Wait()
	<-started
	select {
	case err := <-fatal:
		return stats{}, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return stats{}, err
	}
	return w.stats(cl.Duration), nil
}

// roundTrip writes req on conn and reads one answer. It returns the status
// and, for statuses other than 2xx, the start of the body.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (int, string, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body []byte
	if resp.StatusCode/100 != 2 {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 300))
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	if resp.Close {
		return resp.StatusCode, string(body), io.EOF
	}
	return resp.StatusCode, string(body), nil
}

// httpRequest renders one POST with a JSON body as HTTP/1.1 bytes.
func httpRequest(host, path, bearer string, body []byte) []byte {
	return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, host, bearer, len(body), body)
}

// openLoop sends requests at a fixed rate whatever the answers do, as
// callers arriving independently would. Latency is measured from the time
// each request was due, so a stalled system shows up in the figures instead
// of slowing the generator down (no coordinated omission).
type openLoop struct {
	Rate     float64 // requests per second
	Warmup   time.Duration
	Duration time.Duration
	// Timeout bounds each request.
	Timeout time.Duration
	// Do performs request i.
	Do func(ctx context.Context, i int) error
	// CPU, as in closedLoop.
	CPU map[string]int
}

func (ol openLoop) run(ctx context.Context) (stats, error) {
	interval := time.Duration(float64(time.Second) / ol.Rate)
	nWarm := int(ol.Warmup / interval)
	n := nWarm + int(ol.Duration/interval)
	start := time.Now().Add(20 * time.Millisecond)
	from := start.Add(time.Duration(nWarm) * interval)
	var w window
	var wg sync.WaitGroup
	for i := 0; i < n && sleep(ctx, time.Until(start.Add(time.Duration(i)*interval))) == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if i == nWarm {
			w.startCPU(ol.CPU)
		}
		wg.Go(func() {
			sent := time.Now()
			rctx, cancel := context.WithTimeout(ctx, ol.Timeout)
			err := ol.Do(rctx, i)
			cancel()
			if i >= nWarm {
				w.add(time.Since(due), err)
				w.mu.Lock()
				w.lags = append(w.lags, sent.Sub(due))
				w.mu.Unlock()
			}
		})
	}
	last := time.Now()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return stats{}, err
	}
	// The window is the span over which requests were sent.
	s := w.stats(last.Sub(from))
	slices.Sort(w.lags)
	s.SendLagP99 = percentile(w.lags, 99)
	return s, nil
}
