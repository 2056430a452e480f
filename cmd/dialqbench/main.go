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
//	    frames to the phones go out.
//
// It prints the figures as Markdown and can rewrite the figures block of
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
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	_ "github.com/lib/pq" // the reference handler's driver
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/priority"
)

// stderr is where children log; the parent points it at a log file.
var stderr io.Writer = os.Stderr

func main() {
	args := os.Args[1:]
	sub := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	var err error
	switch sub {
	case "run":
		err = run(args)
	case "serve":
		err = serve(args)
	case "serve-reference":
		err = serveReference(args)
	case "sipdouble":
		err = serveDouble(args)
	case "idle-worker":
		err = idleWorker(args)
	case "bridge-agents":
		err = serveAgents(args)
	case "bridge-codec":
		err = serveCodec(args)
	default:
		err = fmt.Errorf("unknown sub-command %q (run, or the internal serve, serve-reference, sipdouble, idle-worker, bridge-agents, bridge-codec)", sub)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dialqbench:", err)
		os.Exit(1)
	}
}

// durations parses a comma-separated list of durations.
type durations []time.Duration

func (d *durations) String() string {
	parts := make([]string, len(*d))
	for i, v := range *d {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

func (d *durations) Set(s string) error {
	*d = nil
	for _, p := range strings.Split(s, ",") {
		v, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || v <= 0 {
			return fmt.Errorf("bad duration %q", p)
		}
		*d = append(*d, v)
	}
	return nil
}

// intList parses a comma-separated list of positive integers.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(s string) error {
	*l = nil
	for _, p := range strings.Split(s, ",") {
		var v int
		if _, err := fmt.Sscan(strings.TrimSpace(p), &v); err != nil || v <= 0 {
			return fmt.Errorf("bad number %q", p)
		}
		*l = append(*l, v)
	}
	return nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("dialqbench", flag.ExitOnError)
	only := fs.String("only", "accept,sync,idle,join,bridge", "benchmarks to run: accept, sync, idle, join, bridge")
	var a acceptOptions
	fs.IntVar(&a.Conns, "accept-conns", 32, "(a) concurrent keep-alive connections")
	fs.DurationVar(&a.Warmup, "accept-warmup", 2*time.Second, "(a) warm-up before each measured window")
	fs.DurationVar(&a.Duration, "accept-duration", 10*time.Second, "(a) measured window per round and arm")
	fs.IntVar(&a.Rounds, "accept-rounds", 3, "(a) rounds per arm (arms alternate; the median is reported)")
	s := syncOptions{TCIs: durations{2 * time.Millisecond, 10 * time.Millisecond}}
	fs.Float64Var(&s.Rate, "sync-rate", 200, "(b) calls per second, open loop")
	fs.DurationVar(&s.Warmup, "sync-warmup", time.Second, "(b) warm-up at the same rate before each window")
	fs.DurationVar(&s.Duration, "sync-duration", 5*time.Second, "(b) measured window per round and arm")
	fs.IntVar(&s.Rounds, "sync-rounds", 2, "(b) rounds per arm (samples are pooled)")
	fs.Var((*durations)(&s.TCIs), "sync-tci", "(b) worker TaskCheckIntervals for the dialq arm")
	fs.DurationVar(&s.InviteDelay, "sync-invite-delay", time.Millisecond, "(b) the SIP double's time to answer (both arms)")
	fs.DurationVar(&s.RoomEmptyTimeout, "sync-room-empty-timeout", 2*time.Minute, "(b) empty timeout of the rooms (both arms)")
	i := idleOptions{TCIs: durations{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second}}
	fs.Var((*durations)(&i.TCIs), "idle-tci", "(c) TaskCheckIntervals to measure")
	fs.DurationVar(&i.Window, "idle-window", 10*time.Second, "(c) how long each idle worker is watched")
	fs.Float64Var(&i.PickupRate, "idle-pickup-rate", 25, "(c) tasks per second (Poisson) for the pickup latency")
	fs.DurationVar(&i.PickupWindow, "idle-pickup-window", 4*time.Second, "(c) how long tasks are enqueued")
	j := joinOptions{}
	fs.Float64Var(&j.Rate, "join-rate", 20, "joined-phone probe: calls per second")
	fs.DurationVar(&j.Warmup, "join-warmup", time.Second, "joined-phone probe: warm-up")
	fs.DurationVar(&j.Duration, "join-duration", 3*time.Second, "joined-phone probe: measured window")
	fs.DurationVar(&j.HangUpAfter, "join-hang-up-after", time.Second, "joined-phone probe: phones hang up this long after answering")
	br := bridgeOptions{Calls: []int{targetBridgeCalls}}
	fs.Var((*intList)(&br.Calls), "bridge-calls", "bridge: concurrent calls, one run per number (e.g. 50,100)")
	fs.Float64Var(&br.Rate, "bridge-rate", 20, "bridge: calls placed per second")
	fs.DurationVar(&br.Warmup, "bridge-warmup", 5*time.Second, "bridge: wait after the last answer before measuring")
	fs.DurationVar(&br.Duration, "bridge-duration", 20*time.Second, "bridge: measured window (and the bare codec arm's)")
	fs.BoolVar(&br.SharedLiveKit, "bridge-shared-livekit", false, "bridge: use the stack's livekit-server instead of a private one")
	fs.BoolVar(&br.Capture, "bridge-capture", true, "bridge: time the RTP to the phones on loopback (needs root)")
	fs.IntVar(&br.Nice, "bridge-nice", priority.Bridge, "bridge: the bridge's nice value, as the worker's DIALQ_BRIDGE_NICE (0 leaves it)")
	fs.DurationVar(&br.TCI, "bridge-tci", 100*time.Millisecond, "bridge: the worker's TaskCheckInterval (DIALQ_TASK_CHECK_INTERVAL), so that its idle polling of the queue is not counted as the calls' CPU")
	fs.StringVar(&br.Scenario, "bridge-scenario", "deploy/sipp/bench-phone.xml", "bridge: the sipp phone's scenario")
	docs := fs.String("docs", "", "rewrite the figures block of this Markdown file (docs/benchmarks.md)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	logDir := fs.String("log-dir", "", "where the servers' logs go (default $DIALQ_STATE_DIR/logs)")
	fs.Parse(args)

	e := env{
		DatabaseURL: os.Getenv("DATABASE_URL"), RedisAddr: os.Getenv("REDIS_ADDR"),
		LiveKitURL: os.Getenv("LIVEKIT_URL"), LiveKitAPIKey: os.Getenv("LIVEKIT_API_KEY"),
		LiveKitAPISecret: os.Getenv("LIVEKIT_API_SECRET"), StateDir: os.Getenv("DIALQ_STATE_DIR"),
	}
	for name, v := range map[string]string{"DATABASE_URL": e.DatabaseURL, "REDIS_ADDR": e.RedisAddr,
		"LIVEKIT_URL": e.LiveKitURL, "LIVEKIT_API_KEY": e.LiveKitAPIKey, "LIVEKIT_API_SECRET": e.LiveKitAPISecret} {
		if v == "" {
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
	rep.Machine.LoadAfter = loadAverage()

	md := rep.markdown()
	fmt.Println()
	fmt.Print(md)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	all := want["accept"] && want["sync"] && want["idle"] && want["join"] && want["bridge"]
	if *docs != "" && !all {
		logf("not rewriting %s: only a full run (every benchmark) does", *docs)
	}
	if *docs != "" && all && len(rep.Broken) == 0 && ctx.Err() == nil {
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

// logf prints a progress line on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench] "+format+"\n", args...)
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
