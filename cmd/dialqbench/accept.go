package main

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
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
	Rounds []round `json:"rounds"`
	// Median of each arm over the rounds (by requests/s; its latencies are
	// the medians of the rounds' p50 and p99).
	Dialq     stats   `json:"dialq"`
	Reference stats   `json:"reference"`
	Ratio     float64 `json:"ratio"`
	// Rows counts the calls both arms stored, to show they did the work.
	Rows int `json:"rows"`
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
	dq, err := startSelf(ctx, "dialq API", logPath, "serve",
		dialqProcs{API: true, DSN: f.DSN, Redis: e.RedisAddr, Queue: qDialq, Channel: benchName("bench:ch:")})
	if err != nil {
		return nil, err
	}
	defer dq.stop()
	ref, err := startSelf(ctx, "reference handler", logPath, "serve-reference", referenceConfig{DSN: f.DSN, Redis: e.RedisAddr, Queue: qRef})
	if err != nil {
		return nil, err
	}
	defer ref.stop()

	body := f.body("+15550100001")
	servers := map[string]*child{"dialq": dq, "reference": ref}
	res := &acceptResult{Options: o}
	err = alternate(o.Rounds, []round{{Arm: "dialq"}, {Arm: "reference"}}, func(rd round) error {
		c := servers[rd.Arm]
		cl := closedLoop{Addr: c.Addr, Request: httpRequest(c.Addr, "/call/outbound?wait=0", f.Key, body), WantStatus: http.StatusAccepted,
			Conns: o.Conns, Warmup: o.Warmup, Duration: o.Duration, CPU: e.pids(map[string]int{"server": c.Pid()})}
		var err error
		if rd.stats, err = cl.run(ctx); err != nil {
			return err
		}
		if !c.alive() {
			return fmt.Errorf("%w (see %s)", errChildGone, logPath)
		}
		logf("accept %s", rd)
		res.Rounds = append(res.Rounds, rd)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accept %w", err)
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
func medianOf(rounds []round, arm string) stats {
	var ss []stats
	var p50s, p99s []time.Duration
	for _, r := range rounds {
		if r.Arm == arm {
			ss, p50s, p99s = append(ss, r.stats), append(p50s, r.P50), append(p99s, r.P99)
		}
	}
	if len(ss) == 0 {
		return stats{}
	}
	slices.SortFunc(ss, func(a, b stats) int { return cmp.Compare(a.RPS, b.RPS) })
	slices.Sort(p50s)
	slices.Sort(p99s)
	m := ss[len(ss)/2]
	m.P50, m.P99 = p50s[len(p50s)/2], p99s[len(p99s)/2]
	return m
}

// referenceConfig is the reference handler's child config.
type referenceConfig struct{ DSN, Redis, Queue string }

// serveReference is the child process of benchmark (a)'s reference arm,
// served with cmd/api's timeouts and as many Postgres connections as
// cmd/api's default DIALQ_DB_MAX_CONNS.
func serveReference(ctx context.Context, _ <-chan string, c referenceConfig) error {
	stopProfile, err := profileChild()
	if err != nil {
		return err
	}
	defer stopProfile()
	rdb := redis.NewClient(&redis.Options{Addr: c.Redis})
	defer rdb.Close()
	ref, err := newReference(ctx, c.DSN, 20, asynq.NewClientFromRedisClient(rdb), c.Queue)
	if err != nil {
		return err
	}
	defer ref.close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: ref.engine, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 90 * time.Second, IdleTimeout: 2 * time.Minute}
	go srv.Serve(l)
	say("ready", l.Addr().String())
	<-ctx.Done()
	sctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	return srv.Shutdown(sctx)
}
