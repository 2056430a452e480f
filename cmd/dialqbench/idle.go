package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/dialer"
)

// idleOptions configure benchmark (c).
type idleOptions struct {
	TCIs []time.Duration
	// Window is how long the idle worker is watched.
	Window time.Duration
	// PickupRate and PickupWindow set the tasks enqueued (Poisson arrivals)
	// to measure the pickup latency.
	PickupRate   float64
	PickupWindow time.Duration
}

// idleResult is benchmark (c)'s outcome, one row per TaskCheckInterval.
type idleResult struct {
	Options idleOptions `json:"options"`
	Rows    []idleRow   `json:"rows"`
}

type idleRow struct {
	TCI time.Duration `json:"tci_ns"`
	// CommandsPerSec is the Redis commands per second the idle worker
	// caused; EvalPerSec the part that is asynq's dequeue script.
	CommandsPerSec float64 `json:"redis_commands_per_sec"`
	EvalPerSec     float64 `json:"redis_evalsha_per_sec"`
	WorkerCPU      float64 `json:"worker_cpu_pct"`
	RedisCPU       float64 `json:"redis_cpu_pct"`
	// Pickup is enqueue → handler start.
	PickupN   int           `json:"pickup_n"`
	PickupP50 time.Duration `json:"pickup_p50_ns"`
	PickupP99 time.Duration `json:"pickup_p99_ns"`
}

// runIdle is benchmark (c): for each TaskCheckInterval, an asynq worker
// configured as cmd/worker, alone on a private redis-server, watched idle
// for a window (Redis commands/s, its CPU and Redis's CPU), then fed tasks
// at random times to measure how long each waits to be picked up.
func runIdle(ctx context.Context, o idleOptions, logDir string) (*idleResult, error) {
	logPath := filepath.Join(logDir, "bench-idle.log")
	rs, addr, err := startRedis(ctx, logPath)
	if err != nil {
		return nil, err
	}
	defer rs.stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()

	res := &idleResult{Options: o}
	for _, tci := range o.TCIs {
		row, err := idleOne(ctx, rdb, addr, rs.Pid(), tci, o, logPath)
		if err != nil {
			return nil, fmt.Errorf("idle worker at %s: %w", tci, err)
		}
		logf("idle tci %-6s %7.1f redis cmds/s (%.1f EVALSHA/s)  worker cpu %.2f%%  redis cpu %.2f%%  pickup p50 %s p99 %s (n=%d)",
			tci, row.CommandsPerSec, row.EvalPerSec, row.WorkerCPU, row.RedisCPU, ms(row.PickupP50), ms(row.PickupP99), row.PickupN)
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

func idleOne(ctx context.Context, rdb *redis.Client, addr string, redisPid int, tci time.Duration, o idleOptions, logPath string) (idleRow, error) {
	row := idleRow{TCI: tci}
	q := benchName("bench_idle_")
	defer deleteQueues(rdb, q)
	w, err := startSelf(ctx, "idle worker", logPath, "idle-worker", idleWorkerConfig{Redis: addr, Queue: q, TCI: tci})
	if err != nil {
		return row, err
	}
	defer w.stop()
	// Let the worker's start-up (server registration, first heartbeat) pass.
	if err := sleep(ctx, 1500*time.Millisecond); err != nil {
		return row, err
	}

	c0, e0, err := commandCounts(ctx, rdb)
	if err != nil {
		return row, err
	}
	cpu := watchCPU(map[string]int{"worker": w.Pid(), "redis": redisPid})
	t0 := time.Now()
	if err := sleep(ctx, o.Window); err != nil {
		return row, err
	}
	c1, e1, err := commandCounts(ctx, rdb)
	if err != nil {
		return row, err
	}
	el := time.Since(t0).Seconds()
	use := cpu.stop()
	// Our own INFO call is counted in the second reading.
	row.CommandsPerSec = float64(c1-c0-1) / el
	row.EvalPerSec = float64(e1-e0) / el
	row.WorkerCPU, row.RedisCPU = use.Procs["worker"], use.Procs["redis"]

	// Pickup latency: tasks at random (Poisson) times, so they land at
	// random points of the worker's polling cycle.
	client := asynq.NewClientFromRedisClient(rdb)
	n := 0
	for deadline := time.Now().Add(o.PickupWindow); time.Now().Before(deadline); n++ {
		if err := sleep(ctx, time.Duration(rand.ExpFloat64()/o.PickupRate*float64(time.Second))); err != nil {
			return row, err
		}
		payload := strconv.FormatInt(time.Now().UnixNano(), 10)
		if _, err := client.EnqueueContext(ctx, asynq.NewTask("bench:pickup", []byte(payload), asynq.Queue(q), asynq.MaxRetry(0))); err != nil {
			return row, err
		}
	}
	var lat []time.Duration
	for len(lat) < n {
		line, err := w.await(ctx, "pickup", 2*tci+5*time.Second)
		if err != nil {
			return row, fmt.Errorf("%d of %d tasks picked up: %w", len(lat), n, err)
		}
		ns, _ := strconv.ParseInt(line, 10, 64)
		lat = append(lat, time.Duration(ns))
	}
	slices.Sort(lat)
	row.PickupN, row.PickupP50, row.PickupP99 = len(lat), percentile(lat, 50), percentile(lat, 99)
	return row, nil
}

// commandCounts reads Redis's total commands processed and EVALSHA calls.
func commandCounts(ctx context.Context, rdb *redis.Client) (total, evalsha int64, err error) {
	info, err := rdb.Info(ctx, "stats", "commandstats").Result()
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			total, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "cmdstat_evalsha:calls="); ok {
			v, _, _ = strings.Cut(v, ",")
			evalsha, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return total, evalsha, nil
}

// startRedis runs a private redis-server on a free loopback port, so the
// idle worker is the only client whose commands are counted.
func startRedis(ctx context.Context, logPath string) (*child, string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("redis-server not found (deploy/stack.sh installs it): %w", err)
	}
	port, err := freePort("tcp")
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "dialqbench-redis-")
	if err != nil {
		return nil, "", err
	}
	c, err := startChild(ctx, "redis-server", logPath, false, path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	go func() { <-c.done; os.RemoveAll(dir) }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := c.waitReady(ctx, "answering", 5*time.Second, func() bool { return rdb.Ping(ctx).Err() == nil }); err != nil {
		c.stop()
		return nil, "", fmt.Errorf("%w (see %s)", err, logPath)
	}
	return c, addr, nil
}

// idleWorkerConfig is the idle worker's child config.
type idleWorkerConfig struct {
	Redis, Queue string
	TCI          time.Duration
}

// idleWorker is the child process of benchmark (c): an asynq server
// configured as cmd/worker's (dialer.ServerConfig of its defaults), whose
// handler reports each task's pickup latency on stdout: "pickup <ns>".
func idleWorker(ctx context.Context, _ <-chan string, c idleWorkerConfig) error {
	rdb := redis.NewClient(&redis.Options{Addr: c.Redis})
	defer rdb.Close()
	mux := asynq.NewServeMux()
	mux.HandleFunc("bench:pickup", func(_ context.Context, t *asynq.Task) error {
		now := time.Now().UnixNano()
		sent, err := strconv.ParseInt(string(t.Payload()), 10, 64)
		if err != nil {
			return fmt.Errorf("bad payload: %w", asynq.SkipRetry)
		}
		say("pickup", now-sent)
		return nil
	})
	o := dialer.DefaultServerOptions(c.Queue)
	o.TaskCheckInterval = c.TCI
	o.ShutdownTimeout = 5 * time.Second
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := asynq.NewServerFromRedisClient(rdb, dialer.ServerConfig(o, log))
	if err := srv.Start(mux); err != nil {
		return err
	}
	say("ready", c.Queue)
	<-ctx.Done()
	srv.Shutdown()
	return nil
}
