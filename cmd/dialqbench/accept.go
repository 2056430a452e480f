package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// acceptOptions configure benchmark (a).
type acceptOptions struct {
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
	Rounds   int
}

// acceptResult is benchmark (a)'s outcome.
type acceptResult struct {
	Options acceptOptions `json:"options"`
	// Rounds holds every measured window, in the order run.
	Rounds []acceptRound `json:"rounds"`
	// Median of each arm over the rounds (by requests/s; its latencies are
	// the medians of the rounds' p50 and p99).
	Dialq     stats   `json:"dialq"`
	Reference stats   `json:"reference"`
	Ratio     float64 `json:"ratio"`
	// RowsPerArm counts the calls each arm stored, to show both did the work.
	Rows int `json:"rows"`
}

type acceptRound struct {
	Arm   string `json:"arm"`
	Round int    `json:"round"`
	stats
}

// runAccept is benchmark (a): POST /call/outbound?wait=0 on dialq's API
// against the reference handler, in alternating rounds.
func runAccept(ctx context.Context, e env, o acceptOptions, logDir string) (*acceptResult, error) {
	f, err := newFixture(ctx, e, "")
	if err != nil {
		return nil, err
	}
	defer f.close()
	rdb := redis.NewClient(&redis.Options{Addr: e.RedisAddr})
	defer rdb.Close()
	qDialq, qRef := benchName("bench_accept_dialq_"), benchName("bench_accept_ref_")
	defer deleteQueues(rdb, qDialq, qRef)

	logPath := filepath.Join(logDir, "bench-accept.log")
	dq, err := dialqProcs{API: true, DSN: f.DSN, Redis: e.RedisAddr, Queue: qDialq, Channel: benchName("bench:ch:")}.start(ctx, "dialq API", logPath)
	if err != nil {
		return nil, err
	}
	defer dq.stop()
	ref, err := startSelf(ctx, "reference handler", logPath, "serve-reference", "-dsn", f.DSN, "-redis", e.RedisAddr, "-queue", qRef)
	if err != nil {
		return nil, err
	}
	defer ref.stop()

	body := f.body("+15550100001")
	arms := map[string]*child{"dialq": dq, "reference": ref}
	res := &acceptResult{Options: o}
	pgPid := readPidFile(filepath.Join(e.StateDir, "run", "postgres.pid"))
	redisPid := readPidFile(filepath.Join(e.StateDir, "run", "redis.pid"))
	for r := 1; r <= o.Rounds; r++ {
		order := []string{"dialq", "reference"}
		if r%2 == 0 {
			order = []string{"reference", "dialq"}
		}
		for _, arm := range order {
			c := arms[arm]
			pids := map[string]int{"server": c.Pid(), "bench": os.Getpid()}
			if pgPid > 0 {
				pids["postgres"] = pgPid
			}
			if redisPid > 0 {
				pids["redis"] = redisPid
			}
			cl := closedLoop{
				Addr: c.Addr, Request: httpRequest(c.Addr, "/call/outbound?wait=0", f.Key, body),
				WantStatus: http.StatusAccepted, Conns: o.Conns, Warmup: o.Warmup, Duration: o.Duration,
				Watch: func() func() cpuUse {
					w := watchCPU(pids, map[string]bool{"postgres": true})
					return w.stop
				},
			}
			s, err := cl.run(ctx)
			if err != nil {
				return nil, fmt.Errorf("accept %s round %d: %w", arm, r, err)
			}
			if !c.alive() {
				return nil, fmt.Errorf("accept %s: %w (see %s)", arm, errChildGone, logPath)
			}
			logf("accept round %d %-9s %7.0f req/s  p50 %s  p99 %s  errors %d  cpu: machine %.0f%% server %.0f%% postgres %.0f%% redis %.0f%% load generator %.0f%%",
				r, arm, s.RPS, ms(s.P50), ms(s.P99), s.Errors, s.CPU.Machine, s.CPU.Procs["server"], s.CPU.Procs["postgres"], s.CPU.Procs["redis"], s.CPU.Procs["bench"])
			res.Rounds = append(res.Rounds, acceptRound{Arm: arm, Round: r, stats: s})
		}
	}
	res.Dialq, res.Reference = medianOf(res.Rounds, "dialq"), medianOf(res.Rounds, "reference")
	if res.Reference.RPS > 0 {
		res.Ratio = res.Dialq.RPS / res.Reference.RPS
	}
	res.Rows = f.rowCount(ctx)
	return res, nil
}

// medianOf returns the round of arm with the median requests/s, with p50
// and p99 replaced by the medians of the rounds' p50s and p99s.
func medianOf(rounds []acceptRound, arm string) stats {
	var ss []stats
	for _, r := range rounds {
		if r.Arm == arm {
			ss = append(ss, r.stats)
		}
	}
	if len(ss) == 0 {
		return stats{}
	}
	slices.SortFunc(ss, func(a, b stats) int { return cmpFloat(a.RPS, b.RPS) })
	m := ss[len(ss)/2]
	var p50s, p99s []time.Duration
	for _, s := range ss {
		p50s = append(p50s, s.P50)
		p99s = append(p99s, s.P99)
	}
	slices.Sort(p50s)
	slices.Sort(p99s)
	m.P50, m.P99 = p50s[len(p50s)/2], p99s[len(p99s)/2]
	return m
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// serveReference is the child process of benchmark (a)'s reference arm.
func serveReference(args []string) error {
	fs := flag.NewFlagSet("serve-reference", flag.ExitOnError)
	dsn := fs.String("dsn", "", "Postgres DSN (with the bench schema's search_path)")
	redisAddr := fs.String("redis", "", "Redis address")
	qname := fs.String("queue", "", "asynq queue")
	fs.Parse(args)

	ctx, cancel, _ := childContext()
	defer cancel()
	stopProfile, err := profileChild()
	if err != nil {
		return err
	}
	defer stopProfile()
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer rdb.Close()
	// As many connections as cmd/api's default DIALQ_DB_MAX_CONNS.
	ref, err := newReference(ctx, *dsn, 20, asynq.NewClientFromRedisClient(rdb), *qname)
	if err != nil {
		return err
	}
	defer ref.close()

	// Served with cmd/api's timeouts.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: ref.engine, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 90 * time.Second, IdleTimeout: 2 * time.Minute}
	go srv.Serve(l)
	announce(l.Addr().String())
	<-ctx.Done()
	sctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	return srv.Shutdown(sctx)
}
