package main

import (
	"context"
	"errors"
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

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/logging"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
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
	common := []string{"-dsn", f.DSN, "-redis", e.RedisAddr}
	dq, err := startSelf(ctx, "dialq API", logPath, append([]string{"serve-accept", "-kind", "dialq", "-queue", qDialq,
		"-channel", benchName("bench:ch:")}, common...)...)
	if err != nil {
		return nil, err
	}
	defer dq.stop()
	ref, err := startSelf(ctx, "reference handler", logPath, append([]string{"serve-accept", "-kind", "reference", "-queue", qRef}, common...)...)
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

// serveAccept is the child process of benchmark (a): dialq's API as
// cmd/api wires it, or the reference handler.
func serveAccept(args []string) error {
	fs := flag.NewFlagSet("serve-accept", flag.ExitOnError)
	kind := fs.String("kind", "dialq", "dialq or reference")
	dsn := fs.String("dsn", "", "Postgres DSN (with the bench schema's search_path)")
	redisAddr := fs.String("redis", "", "Redis address")
	qname := fs.String("queue", "", "asynq queue")
	channel := fs.String("channel", "", "notify channel (dialq)")
	maxConns := fs.Int("db-conns", 20, "Postgres pool size (cmd/api's default DIALQ_DB_MAX_CONNS)")
	fs.Parse(args)

	ctx, cancel := childContext()
	defer cancel()
	stopProfile, err := profileChild()
	if err != nil {
		return err
	}
	defer stopProfile()
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	client := asynq.NewClientFromRedisClient(rdb)

	var h http.Handler
	switch *kind {
	case "dialq":
		// As cmd/api wires it, with cmd/api's defaults.
		log := logging.New(stderr, "info").With("service", "api")
		db, err := postgres.Open(ctx, *dsn, *maxConns)
		if err != nil {
			return err
		}
		defer db.Close()
		hub, err := notify.NewHub(ctx, rdb, *channel, log)
		if err != nil {
			return err
		}
		defer hub.Close()
		opts := queue.DefaultDialOptions()
		opts.Queue = *qname
		svc := calls.New(db, queue.NewEnqueuer(client, opts), hub, nil, log,
			calls.Config{PollInterval: time.Second, CacheTTL: 5 * time.Second})
		api, err := httpapi.New(svc, db, func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, log,
			httpapi.Config{DefaultWait: 10 * time.Second, MaxWait: 60 * time.Second, CacheTTL: 5 * time.Second})
		if err != nil {
			return err
		}
		h = api
	case "reference":
		ref, err := newReference(ctx, *dsn, *maxConns, client, *qname)
		if err != nil {
			return err
		}
		defer ref.close()
		h = ref.engine
	default:
		return fmt.Errorf("unknown -kind %q", *kind)
	}
	return serveHTTP(ctx, h)
}

// serveHTTP serves h on a free loopback port with cmd/api's timeouts until
// ctx ends.
func serveHTTP(ctx context.Context, h http.Handler) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 90 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	announce(l.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
