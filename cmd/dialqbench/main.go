// Command dialqbench runs dialq's benchmarks against the local stack (`make
// bench` runs it through deploy/bench.sh):
//
//	(a) accept path: POST /call/outbound?wait=0 on dialq's API against a
//	    minimal reference handler, closed loop, alternating rounds;
//	(b) synchronous call: POST /call/outbound through the worker, LiveKit
//	    and a SIP double that answers at once, against the same three
//	    LiveKit requests made directly, open loop at a fixed rate;
//	(c) idle cost of the worker's asynq TaskCheckInterval choices: Redis
//	    commands/s and CPU of an idle worker, next to its pickup latency;
//	plus a probe of what phones that really join the room over WebRTC cost;
//	bridge: concurrent calls through dialq's Exotel bridge (SIP to a sipp
//	    phone, RTP to LiveKit rooms with an agent talking), its CPU per call
//	    against the bare codec work of as many calls, and how late its
//	    frames to the phones go out;
//	list: GET /calls over a million stored calls, each filter, against
//	    50 ms at p50;
//	webhook: from a phone's hang-up to its call's call.completed webhook
//	    arriving, against 100 ms at p50;
//	soak (not in the default set): a thousand whole calls in a row on
//	    both paths, each ending completed, and livekit-server empty after.
//
// dialq runs as cmd/api and cmd/worker run it, built by package app. It
// prints the figures as Markdown and can rewrite the figures block of
// docs/benchmarks.md. It exits 0 unless a benchmark broke: missing a target
// is a finding, not a failure.
//
// The servers under test run as child processes of this binary (it starts
// itself with a sub-command), so the load generator never shares a Go
// runtime with what it measures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	_ "github.com/lib/pq" // the reference handler's driver
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/priority"
)

// children are the sub-commands the bench starts itself with, each taking
// its config as one JSON argument.
var children = map[string]func([]string) error{
	"serve":           childMain(serve),
	"serve-reference": childMain(serveReference),
	"sipdouble":       childMain(serveDouble),
	"idle-worker":     childMain(idleWorker),
	"bridge-agents":   childMain(serveAgents),
	"bridge-codec":    childMain(serveCodec),
	"agent":           childMain(serveAgent),
}

func main() {
	args, sub := os.Args[1:], run
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if sub = children[args[0]]; sub == nil {
			fmt.Fprintf(os.Stderr, "dialqbench: unknown sub-command %q: the bench takes flags only (-h)\n", args[0])
			os.Exit(2)
		}
		args = args[1:]
	}
	if err := sub(args); err != nil {
		fmt.Fprintln(os.Stderr, "dialqbench:", err)
		os.Exit(1)
	}
}

// list is a flag of comma-separated values.
type list[T any] struct {
	v     *[]T
	parse func(string) (T, error)
}

func (l list[T]) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Trim(strings.ReplaceAll(fmt.Sprint(*l.v), " ", ","), "[]")
}

func (l list[T]) Set(s string) error {
	*l.v = nil
	for _, p := range strings.Split(s, ",") {
		v, err := l.parse(strings.TrimSpace(p))
		if err != nil {
			return err
		}
		*l.v = append(*l.v, v)
	}
	return nil
}

func durations(v *[]time.Duration) list[time.Duration] {
	return list[time.Duration]{v, time.ParseDuration}
}
func ints(v *[]int) list[int] { return list[int]{v, strconv.Atoi} }

func run(args []string) error {
	fs := flag.NewFlagSet("dialqbench", flag.ExitOnError)
	only := fs.String("only", defaultSet, "benchmarks to run: "+defaultSet+", and soak (not in the default set)")
	var a acceptOptions
	fs.IntVar(&a.Conns, "accept-conns", 32, "(a) concurrent keep-alive connections")
	fs.DurationVar(&a.Warmup, "accept-warmup", 2*time.Second, "(a) warm-up before each measured window")
	fs.DurationVar(&a.Duration, "accept-duration", 10*time.Second, "(a) measured window per round and arm")
	fs.IntVar(&a.Rounds, "accept-rounds", 3, "(a) rounds per arm (arms alternate; the median is reported)")
	s := syncOptions{TCIs: []time.Duration{2 * time.Millisecond, 10 * time.Millisecond}}
	fs.Float64Var(&s.Rate, "sync-rate", 200, "(b) calls per second, open loop")
	fs.DurationVar(&s.Warmup, "sync-warmup", time.Second, "(b) warm-up at the same rate before each window")
	fs.DurationVar(&s.Duration, "sync-duration", 5*time.Second, "(b) measured window per round and arm")
	fs.IntVar(&s.Rounds, "sync-rounds", 2, "(b) rounds per arm (samples are pooled)")
	fs.Var(durations(&s.TCIs), "sync-tci", "(b) worker TaskCheckIntervals for the dialq arm")
	fs.DurationVar(&s.InviteDelay, "sync-invite-delay", time.Millisecond, "(b) the SIP double's time to answer (both arms)")
	fs.DurationVar(&s.RoomEmptyTimeout, "sync-room-empty-timeout", 2*time.Minute, "(b) empty timeout of the rooms (both arms)")
	i := idleOptions{TCIs: []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second}}
	fs.Var(durations(&i.TCIs), "idle-tci", "(c) TaskCheckIntervals to measure")
	fs.DurationVar(&i.Window, "idle-window", 10*time.Second, "(c) how long each idle worker is watched")
	fs.Float64Var(&i.PickupRate, "idle-pickup-rate", 25, "(c) tasks per second (Poisson) for the pickup latency")
	fs.DurationVar(&i.PickupWindow, "idle-pickup-window", 4*time.Second, "(c) how long tasks are enqueued")
	var j joinOptions
	fs.Float64Var(&j.Rate, "join-rate", 20, "joined-phone probe: calls per second")
	fs.DurationVar(&j.Warmup, "join-warmup", time.Second, "joined-phone probe: warm-up")
	fs.DurationVar(&j.Duration, "join-duration", 3*time.Second, "joined-phone probe: measured window")
	fs.DurationVar(&j.HangUpAfter, "join-hang-up-after", time.Second, "joined-phone probe: phones hang up this long after answering")
	br := bridgeOptions{Calls: []int{targetBridgeCalls}}
	fs.Var(ints(&br.Calls), "bridge-calls", "bridge: concurrent calls, one run per number (e.g. 50,100)")
	fs.Float64Var(&br.Rate, "bridge-rate", 20, "bridge: calls placed per second")
	fs.DurationVar(&br.Warmup, "bridge-warmup", 5*time.Second, "bridge: wait after the last answer before measuring")
	fs.DurationVar(&br.Duration, "bridge-duration", 20*time.Second, "bridge: measured window (and the bare codec arm's)")
	fs.BoolVar(&br.SharedLiveKit, "bridge-shared-livekit", false, "bridge: use the stack's livekit-server instead of a private one")
	fs.BoolVar(&br.Capture, "bridge-capture", true, "bridge: time the RTP to the phones on loopback (needs root)")
	fs.IntVar(&br.Nice, "bridge-nice", priority.Bridge, "bridge: the worker's nice value (DIALQ_BRIDGE_NICE; 0 leaves it)")
	fs.DurationVar(&br.TCI, "bridge-tci", 100*time.Millisecond,
		"bridge: the worker's TaskCheckInterval (DIALQ_TASK_CHECK_INTERVAL), long so that its idle polling of the queue, (c)'s figure, is not counted as the calls' CPU")
	fs.StringVar(&br.Scenario, "bridge-scenario", "deploy/sipp/bench-phone.xml", "bridge: the sipp phone's scenario")
	l := listOptions{Tenants: 4}
	fs.IntVar(&l.Calls, "list-calls", 1_000_000, "list: calls stored before GET /calls is timed")
	fs.IntVar(&l.Requests, "list-requests", 50, "list: measured requests per page")
	wh := webhookOptions{}
	fs.IntVar(&wh.Calls, "webhook-calls", 50, "webhook: calls placed")
	fs.IntVar(&wh.Concurrency, "webhook-concurrency", 2, "webhook: calls at a time")
	fs.DurationVar(&wh.Talk, "webhook-talk", time.Second, "webhook: the phones hang up this long after answering")
	so := soakOptions{}
	fs.IntVar(&so.Calls, "soak-calls", 1000, "soak: calls placed, one after another")
	fs.IntVar(&so.Concurrency, "soak-concurrency", 4, "soak: calls at a time")
	fs.DurationVar(&so.Talk, "soak-talk", 6*time.Second, "soak: the phones hang up this long after answering (the agent ends half the calls at a quarter of it)")
	fs.IntVar(&so.Ports, "soak-ports", 100, "soak: livekit-server's WebRTC UDP ports (make run's server has 100)")
	fs.DurationVar(&so.Settle, "soak-settle", 3*time.Minute, "soak: how long to wait after the last call for livekit-server to hold no room")
	fs.StringVar(&so.Scenario, "soak-scenario", "deploy/sipp/exotel-phone.xml", "soak: make run's sipp Exotel phone")
	up := uploadOptions{}
	fs.IntVar(&up.Small, "upload-small", 100_000, "campaign-upload: contacts of the timed upload")
	fs.IntVar(&up.Large, "upload-large", 1_000_000, "campaign-upload: contacts of the upload and dry run whose memory is sampled")
	fs.IntVar(&up.JSON, "upload-json", 100_000, "campaign-upload: contacts of a JSON upload (0: none)")
	fs.DurationVar(&up.Sample, "upload-sample", 500*time.Millisecond, "campaign-upload: how often the API's RSS is read")
	co := campaignOptions{}
	fs.IntVar(&co.Contacts, "campaign-contacts", 2000, "campaign-rate: contacts of the campaign")
	fs.Float64Var(&co.CallsPerSecond, "campaign-cps", 10, "campaign-rate: its calls_per_second")
	fs.IntVar(&co.MaxConcurrency, "campaign-concurrency", 30, "campaign-rate: its max_concurrency")
	fs.DurationVar(&co.Duration, "campaign-duration", time.Minute, "campaign-rate: how long it is measured")
	fs.IntVar(&co.Workers, "campaign-workers", 2, "campaign-rate: worker processes")
	fs.DurationVar(&co.Talk, "campaign-talk", 2*time.Second, "campaign-rate: the workers' reconcile interval, which ends each answered call")
	docs := fs.String("docs", "", "rewrite the figures block of this Markdown file (docs/benchmarks.md)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	logDir := fs.String("log-dir", "", "where the servers' logs go (default $DIALQ_STATE_DIR/logs)")
	fs.Parse(args)

	e := env{DatabaseURL: os.Getenv("DATABASE_URL"), RedisAddr: os.Getenv("REDIS_ADDR"), LiveKitURL: os.Getenv("LIVEKIT_URL"),
		LiveKitAPIKey: os.Getenv("LIVEKIT_API_KEY"), LiveKitAPISecret: os.Getenv("LIVEKIT_API_SECRET"), StateDir: os.Getenv("DIALQ_STATE_DIR")}
	for _, name := range []string{"DATABASE_URL", "REDIS_ADDR", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"} {
		if os.Getenv(name) == "" {
			return fmt.Errorf("%s is not set: run `make bench`, or `make up` and `. .dialq/stack.env` first", name)
		}
	}
	if e.StateDir == "" {
		e.StateDir = ".dialq"
	}
	if *logDir == "" {
		*logDir = filepath.Join(e.StateDir, "logs")
	}
	if err := os.MkdirAll(*logDir, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, b := range strings.Split(*only, ",") {
		want[strings.TrimSpace(b)] = true
	}
	lksdk.SetLogger(protologger.LogRLogger(logr.Discard()))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := newReport(ctx, e)
	logf("machine: %s; %d cores; load average before: %s", rep.Machine.CPUModel, rep.Machine.NProc, rep.Machine.LoadBefore)
	logf("servers' logs: %s/bench-*.log", *logDir)
	all := true
	for _, b := range strings.Split(defaultSet, ",") {
		all = all && want[b]
	}
	step := func(name string, f func() error) {
		if !want[name] || ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		logf("== %s", name)
		if err := f(); err != nil {
			logf("%s broke: %v", name, err)
			rep.Broken = append(rep.Broken, fmt.Sprintf("%s: %v", name, err))
		}
		logf("== %s done in %s", name, time.Since(t0).Round(time.Second))
	}
	step("accept", func() (err error) { rep.Accept, err = runAccept(ctx, e, a, *logDir); return })
	step("sync", func() (err error) { rep.Sync, err = runSync(ctx, e, s, *logDir); return })
	step("idle", func() (err error) { rep.Idle, err = runIdle(ctx, i, *logDir); return })
	step("join", func() (err error) { rep.Join, err = runJoin(ctx, e, j, *logDir); return })
	step("bridge", func() (err error) { rep.Bridge, err = runBridge(ctx, e, br, *logDir); return })
	step("list", func() (err error) { rep.List, err = runList(ctx, e, l, *logDir); return })
	step("webhook", func() (err error) { rep.Webhook, err = runWebhook(ctx, e, wh, *logDir); return })
	step("soak", func() (err error) { rep.Soak, err = runSoak(ctx, e, so, *logDir); return })
	step("campaign-upload", func() (err error) { rep.Upload, err = runUpload(ctx, e, up, *logDir); return })
	step("campaign-rate", func() (err error) { rep.Campaign, err = runCampaign(ctx, e, co, *logDir); return })
	rep.Machine.LoadAfter = loadAverage()

	md := rep.markdown()
	fmt.Print("\n" + md)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	switch {
	case *docs == "":
	case !all:
		logf("not rewriting %s: only a full run (every benchmark) does", *docs)
	case len(rep.Broken) == 0 && ctx.Err() == nil:
		if err := updateDocs(*docs, md); err != nil {
			return err
		}
		logf("figures written to %s", *docs)
	}
	if len(rep.Broken) > 0 {
		return fmt.Errorf("%d benchmark(s) broke: %s", len(rep.Broken), strings.Join(rep.Broken, "; "))
	}
	return ctx.Err()
}

// defaultSet are the benchmarks a run without -only runs, and a full run
// (the one that rewrites the figures) has.
const defaultSet = "accept,sync,idle,join,bridge,list,webhook,campaign-upload,campaign-rate"

// logf prints a progress line on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench] "+format+"\n", args...)
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string { return msf(d) + " ms" }

// msf is d in milliseconds, for a table.
func msf(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inParallel calls f(i) for every i below n, limit at a time, and returns
// once every call has.
func inParallel(n, limit int, f func(i int)) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, limit)
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			f(i)
		})
	}
	wg.Wait()
}
