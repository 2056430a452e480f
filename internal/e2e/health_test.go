package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestReadyzFollowsRedis: an API and a worker on a redis-server of the
// test's own answer /readyz 200 with postgres, redis and livekit ok; within
// 2 s of that Redis stopping both answer 503 naming redis (and no error
// text), while /healthz stays 200; started again on the same port, both are
// ready again.
func TestReadyzFollowsRedis(t *testing.T) {
	t.Parallel()
	port, _ := testenv.PortBlock(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dir := t.TempDir()
	stopRedis := startRedis(t, port, dir)
	s := newStack(t, stackOptions{redisAddr: addr})
	require.NotEmpty(t, s.workerHTTP)
	procs := map[string]string{"api": s.apiURL, "worker": s.workerHTTP}

	for name, url := range procs {
		status, body := readyz(t, url)
		require.Equal(t, http.StatusOK, status, "%s: %v", name, body)
		require.Equal(t, map[string]string{"postgres": "ok", "redis": "ok", "livekit": "ok"}, checkStatuses(t, body["checks"]), name)
	}

	stopRedis()
	stopped := time.Now()
	// Both at once: each probe of a process without Redis lasts up to the
	// check's timeout.
	var wg sync.WaitGroup
	for name, url := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unready(t, name, url, addr, stopped)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	startRedis(t, port, dir)
	for name, url := range procs {
		waitFor(t, 10*time.Second, name+" ready again", func() bool {
			status, _ := readyz(t, url)
			return status == http.StatusOK
		})
	}
}

// unready polls url's /readyz until it answers 503, which it must within
// 2 s of stopped, naming redis and nothing of why; /healthz stays 200.
func unready(t *testing.T, name, url, addr string, stopped time.Time) {
	for {
		status, body, err := getReadyz(url)
		if !assert.NoError(t, err, name) {
			return
		}
		if status == http.StatusServiceUnavailable {
			took := time.Since(stopped)
			t.Logf("%s: /readyz 503 %s after Redis stopped", name, took.Round(time.Millisecond))
			assert.Less(t, took, 2*time.Second, "%s turns unready within 2 s", name)
			assert.Equal(t, "Not ready: redis unavailable.", body["message"], name)
			assert.Equal(t, map[string]any{"code": "unavailable"}, body["error"], name)
			data, _ := body["data"].(map[string]any)
			assert.Equal(t, map[string]string{"postgres": "ok", "redis": "unavailable", "livekit": "ok"}, statuses(data["checks"]), name)
			raw, _ := json.Marshal(body)
			for _, detail := range []string{addr, "refused", "dial", "EOF"} {
				assert.NotContains(t, string(raw), detail, "%s: detail for the log only", name)
			}
			break
		}
		if !assert.Equal(t, http.StatusOK, status, "%s: %v", name, body) ||
			!assert.Less(t, time.Since(stopped), 2*time.Second, "%s still ready 2 s after Redis stopped", name) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(url + "/healthz")
	if assert.NoError(t, err) {
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s is alive without Redis", name)
	}
}

// startRedis runs a redis-server of the test's own on 127.0.0.1:port with
// its files in dir, waits until it answers and returns what stops it (by
// its PID); the test's end stops it too.
func startRedis(t *testing.T, port int, dir string) (stop func()) {
	t.Helper()
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--logfile", dir+"/redis-"+strconv.FormatInt(time.Now().UnixNano(), 10)+".log")
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		select {
		case <-done:
			return
		default:
		}
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	t.Cleanup(stop)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer rdb.Close()
	waitFor(t, 10*time.Second, "redis-server answering", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return rdb.Ping(ctx).Err() == nil
	})
	return stop
}

// readyz asks base's /readyz.
func readyz(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	status, body, err := getReadyz(base)
	require.NoError(t, err)
	return status, body
}

// getReadyz asks base's /readyz, from any goroutine.
func getReadyz(base string) (int, map[string]any, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return 0, nil, fmt.Errorf("/readyz body %s: %w", raw, err)
	}
	return resp.StatusCode, body, nil
}

// checkStatuses maps a /readyz body's checks by name to their status, each
// with its latency.
func checkStatuses(t *testing.T, checks any) map[string]string {
	t.Helper()
	list, ok := checks.([]any)
	require.True(t, ok, "checks is a list: %v", checks)
	for _, c := range list {
		require.Contains(t, c, "latency_ms")
	}
	return statuses(checks)
}

// statuses maps a /readyz body's checks by name to their status.
func statuses(checks any) map[string]string {
	out := map[string]string{}
	list, _ := checks.([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		name, _ := m["name"].(string)
		out[name], _ = m["status"].(string)
	}
	return out
}
