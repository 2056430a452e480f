package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
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
	FirstError string  `json:"first_error,omitempty"`
	CPU        *cpuUse `json:"cpu,omitempty"`
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

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
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
	// Watch, if set, is started when the recorded window starts and stopped
	// when it ends.
	Watch func() func() cpuUse
}

func (cl closedLoop) run(ctx context.Context) (stats, error) {
	start := time.Now()
	from := start.Add(cl.Warmup)
	until := from.Add(cl.Duration)

	var (
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
		fatal    error
	)
	var cpu cpuUse
	var cpuDone sync.WaitGroup
	if cl.Watch != nil {
		cpuDone.Add(1)
		go func() {
			defer cpuDone.Done()
			select {
			case <-time.After(time.Until(from)):
			case <-ctx.Done():
				return
			}
			stop := cl.Watch()
			select {
			case <-time.After(time.Until(until)):
			case <-ctx.Done():
			}
			cpu = stop()
		}()
	}
	for i := 0; i < cl.Conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			nErr, fe := 0, ""
			fail := func(t time.Time, msg string) {
				if !t.Before(from) && t.Before(until) {
					nErr++
					if fe == "" {
						fe = msg
					}
				}
			}
			var conn net.Conn
			var br *bufio.Reader
			redials := 0
			for ctx.Err() == nil {
				if conn == nil {
					if redials > 50 {
						mu.Lock()
						fatal = fmt.Errorf("connection to %s keeps failing: %s", cl.Addr, fe)
						mu.Unlock()
						return
					}
					redials++
					c, err := net.DialTimeout("tcp", cl.Addr, 5*time.Second)
					if err != nil {
						fail(time.Now(), err.Error())
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 16<<10)
				}
				t0 := time.Now()
				if !t0.Before(until) {
					break
				}
				_ = conn.SetDeadline(t0.Add(30 * time.Second))
				status, body, err := roundTrip(conn, br, cl.Request)
				t1 := time.Now()
				switch {
				case err != nil:
					fail(t1, err.Error())
					conn.Close()
					conn = nil
				case status != cl.WantStatus:
					fail(t1, fmt.Sprintf("status %d: %s", status, body))
				case !t1.Before(from) && t1.Before(until):
					lat = append(lat, t1.Sub(t0))
				}
			}
			if conn != nil {
				conn.Close()
			}
			mu.Lock()
			all = append(all, lat...)
			errs += nErr
			if firstErr == "" {
				firstErr = fe
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	cpuDone.Wait()
	if fatal != nil {
		return stats{}, fatal
	}
	if err := ctx.Err(); err != nil {
		return stats{}, err
	}
	s := summarize(all, errs, cl.Duration, firstErr)
	if cl.Watch != nil {
		s.CPU = &cpu
	}
	return s, nil
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
	var body string
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		body = string(b)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	if resp.Close {
		return resp.StatusCode, body, io.EOF
	}
	return resp.StatusCode, body, nil
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
	// Watch, as in closedLoop.
	Watch func() func() cpuUse
}

func (ol openLoop) run(ctx context.Context) (stats, error) {
	interval := time.Duration(float64(time.Second) / ol.Rate)
	nWarm := int(ol.Warmup / interval)
	n := nWarm + int(ol.Duration/interval)
	start := time.Now().Add(20 * time.Millisecond)
	from := start.Add(time.Duration(nWarm) * interval)

	var (
		mu       sync.Mutex
		ok       []time.Duration
		lags     []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
		stopCPU  func() cpuUse
	)
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		if i == nWarm && ol.Watch != nil {
			stopCPU = ol.Watch()
		}
		measured := i >= nWarm
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			rctx, cancel := context.WithTimeout(ctx, ol.Timeout)
			err := ol.Do(rctx, i)
			cancel()
			done := time.Now()
			if !measured {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			lags = append(lags, sent.Sub(due))
			if err != nil {
				errs++
				if firstErr == "" {
					firstErr = err.Error()
				}
				return
			}
			ok = append(ok, done.Sub(due))
		}()
	}
	last := time.Now()
	wg.Wait()
	var cpu cpuUse
	if stopCPU != nil {
		cpu = stopCPU()
	}
	if err := ctx.Err(); err != nil {
		return stats{}, err
	}
	// The window is the span over which requests were sent.
	s := summarize(ok, errs, last.Sub(from), firstErr)
	slices.Sort(lags)
	s.SendLagP99 = percentile(lags, 99)
	if stopCPU != nil {
		s.CPU = &cpu
	}
	return s, nil
}
