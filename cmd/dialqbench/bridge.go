package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/localport"
	"github.com/dialq/dialq/internal/logging"
	"github.com/dialq/dialq/internal/secret"
)

// The bridge benchmark's RTP ports (the Exotel trunk's range), away from
// make run's 58100-58299, the tests' ports (testenv.PortBlock: 10000-20999)
// and the relay tests' 21000-22003, below Linux's ephemeral range.
const (
	bridgeRTPMin = 24000
	bridgeRTPMax = 25999
)

// bridgeBench is what the runs of the bridge benchmark share: a sipp phone
// behind an Exotel trunk, LiveKit, and dialq's API in this process, whose
// calls service places the calls.
type bridgeBench struct {
	e         env
	o         bridgeOptions
	logDir    string
	lkURL     string
	lkPid     int
	sipp      *child
	mediaPort int // the phones' RTP port
	f         *fixture
	trunk     *dialq.Trunk // the Exotel trunk, to sipp
	worker    dialqProcs   // how each run's worker runs
	calls     *calls.Service
	closers   []func()
}

// runBridge is the bridge benchmark: N calls through dialq's Exotel bridge,
// held up with speech both ways, against the bare codec work of N calls.
// The calls are placed through the calls service of an API in this process
// and dialed by a worker in a child process, both built by package app as
// cmd/api and cmd/worker build theirs: the dial task makes the room and the
// agent dispatch and hands the call to the worker's bridge.
func runBridge(ctx context.Context, e env, o bridgeOptions, logDir string) (*bridgeResult, error) {
	if len(o.Calls) == 0 || o.Rate <= 0 || o.Duration <= 0 {
		return nil, fmt.Errorf("bridge: -bridge-calls, -bridge-rate and -bridge-duration must be positive")
	}
	bb := &bridgeBench{e: e, o: o, logDir: logDir}
	defer bb.close()
	if err := bb.setUp(ctx); err != nil {
		return nil, err
	}
	res := &bridgeResult{Options: o}
	for _, n := range o.Calls {
		run, err := bb.run(ctx, n)
		if err != nil {
			return res, fmt.Errorf("%d calls: %w", n, err)
		}
		res.Runs = append(res.Runs, *run)
	}
	return res, nil
}

func (bb *bridgeBench) close() {
	for i := len(bb.closers) - 1; i >= 0; i-- {
		bb.closers[i]()
	}
}

func (bb *bridgeBench) setUp(ctx context.Context) error {
	if _, err := exec.LookPath("sipp"); err != nil {
		return fmt.Errorf("sipp is not installed: install Debian's sip-tester (deploy/stack.sh tools does)")
	}
	if _, err := phoneSpeech(); err != nil {
		return err
	}
	scenario, err := filepath.Abs(bb.o.Scenario)
	if err == nil {
		_, err = os.Stat(scenario)
	}
	if err != nil {
		return fmt.Errorf("sipp scenario: %w", err)
	}
	bb.lkURL, bb.lkPid = bb.e.LiveKitURL, bb.e.pids(nil)["livekit"]
	if !bb.o.SharedLiveKit {
		lk, url, err := startPrivateLiveKit(ctx, bb.e, filepath.Join(bb.logDir, "bench-bridge-livekit.log"), nil)
		if err != nil {
			return err
		}
		bb.closers = append(bb.closers, lk.stop)
		bb.lkURL, bb.lkPid = url, lk.Pid()
		logf("bridge: private livekit-server at %s (pid %d)", url, bb.lkPid)
	}

	// The phone: sipp on ports of its own, below Linux's ephemeral range (a
	// port there may still have a connection in TIME_WAIT, which sipp's bind
	// refuses) and away from the bridge's RTP ports. It binds four media
	// ports from the media port.
	sipPort := 0
	for range 100 {
		if base := 28000 + 8*rand.IntN(240); localport.Free(base, 8) {
			sipPort, bb.mediaPort = base, base+2
			break
		}
	}
	if sipPort == 0 {
		return fmt.Errorf("no free ports for sipp in 28000-29919")
	}
	if bb.sipp, err = startChild(ctx, "sipp phone", filepath.Join(bb.logDir, "bench-bridge-sipp.log"), false, "sipp",
		"-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(sipPort), "-t", "t1",
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(bb.mediaPort), "-nostdin", "-f", "5",
		"-trace_err", "-error_file", filepath.Join(bb.logDir, "bench-bridge-sipp-errors.log")); err != nil {
		return err
	}
	bb.closers = append(bb.closers, bb.sipp.stop)
	if err := bb.sipp.waitReady(ctx, "listening", 10*time.Second, func() bool { return tcpListening(sipPort) }); err != nil {
		return err
	}

	// The tenant, with an Exotel trunk to the phone whose SIP password only
	// the worker's secret key opens.
	if bb.f, err = newFixture(ctx, bb.e, ""); err != nil {
		return err
	}
	bb.closers = append(bb.closers, bb.f.close)
	key := secret.NewKey()
	box, err := secret.BoxFromKey(key)
	if err != nil {
		return err
	}
	bb.f.DB.UseSecrets(box)
	sip := &dialq.SIPTrunkConfig{SIPHost: "127.0.0.1", SIPPort: sipPort, Transport: "tcp", FromDomain: "exotel.local",
		CallerID: "08044319240", Username: "exotel-bench", Password: "dialq-bench-sip",
		MediaIP: "127.0.0.1", RTPPortMin: bridgeRTPMin, RTPPortMax: bridgeRTPMax}
	if err := sip.Normalize(dialq.Exotel); err != nil {
		return err
	}
	bb.trunk = &dialq.Trunk{ID: benchName("ST_bench_exotel_"), TenantID: bb.f.Tenant, Name: "bench exotel (sipp)", Provider: dialq.ServiceExotel, SIP: sip}
	if err := bb.f.DB.SaveTrunk(ctx, bb.trunk); err != nil {
		return fmt.Errorf("save the Exotel trunk: %w", err)
	}

	// dialq: the API here, each run's worker in a child.
	bb.worker = dialqProcs{Worker: true, DSN: bb.f.DSN, Redis: bb.e.RedisAddr, Queue: benchName("bench_bridge_"), Channel: benchName("bench:ch:"),
		LiveKit: bb.lkURL, TCI: bb.o.TCI, SecretKey: key, Nice: bb.o.Nice}
	rdb := redis.NewClient(&redis.Options{Addr: bb.e.RedisAddr})
	bb.closers = append(bb.closers, func() { deleteQueues(rdb, bb.worker.Queue); rdb.Close() })
	apiLog, err := os.OpenFile(filepath.Join(bb.logDir, "bench-bridge-api.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	bb.closers = append(bb.closers, func() { apiLog.Close() })
	api, err := app.NewAPI(ctx, bb.worker.apiConfig(), logging.New(apiLog, "warn").With("service", "api"))
	if err != nil {
		return err
	}
	apiCtx, stopAPI := context.WithCancel(context.WithoutCancel(ctx))
	apiDone := make(chan error, 1)
	go func() { apiDone <- api.Run(apiCtx) }()
	bb.closers = append(bb.closers, func() { stopAPI(); <-apiDone; api.Close() })
	bb.calls = api.Service
	return nil
}

// tcpListening reports whether something listens on 127.0.0.1:port, as
// /proc/net/tcp shows it (sipp has no readiness signal).
func tcpListening(port int) bool {
	local := fmt.Sprintf("0100007F:%04X", port)
	b, _ := os.ReadFile("/proc/net/tcp")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[1] == local && f[3] == "0A" {
			return true
		}
	}
	return false
}

// run measures n concurrent calls.
func (bb *bridgeBench) run(ctx context.Context, n int) (*bridgeRun, error) {
	o := bb.o
	logPath := filepath.Join(bb.logDir, "bench-bridge.log")
	worker, err := startSelf(ctx, "dialq worker (bridge)", logPath, "serve", bb.worker)
	if err != nil {
		return nil, err
	}
	defer worker.stop()
	if nice := procNice(worker.Pid()); nice != o.Nice {
		return nil, fmt.Errorf("the worker runs at nice %d, not %d (it needs CAP_SYS_NICE; -bridge-nice 0 measures at the default priority)", nice, o.Nice)
	}
	rooms := &roomJanitor{rooms: lksdk.NewRoomServiceClient(bb.lkURL, bb.e.LiveKitAPIKey, bb.e.LiveKitAPISecret)}
	defer rooms.deleteAll(context.WithoutCancel(ctx))

	start := time.Now()
	run := &bridgeRun{Calls: n}
	ids, err := bb.place(ctx, start, n, &run.Up)
	if err != nil {
		return nil, err
	}
	logf("bridge %d calls: placed %d in %s, answered %d, failed %d", n, run.Up.Placed, run.Up.Ramp.Round(time.Millisecond),
		run.Up.Answered, run.Up.Failed)
	if run.Up.FirstError != "" {
		logf("  first error: %s", run.Up.FirstError)
	}
	if run.Up.Answered == 0 {
		return nil, fmt.Errorf("no call was answered (see %s)", logPath)
	}
	// The agents join the rooms the dial tasks made.
	agents, err := startSelf(ctx, "agents", filepath.Join(bb.logDir, "bench-bridge-agents.log"), "bridge-agents",
		agentsConfig{LiveKit: bb.lkURL, Rooms: rooms.addFrom(ctx, bb.f, start)})
	if err != nil {
		return nil, err
	}
	defer agents.stop()
	if err := sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}

	var capture *rtpCapture
	if o.Capture {
		if capture, err = startRTPCapture(bridgeRTPMin, bridgeRTPMax, bb.mediaPort); err != nil {
			logf("  no wire timing: %v", err)
		}
	}
	if err := worker.send("measure"); err != nil {
		return nil, err
	}
	w := watchCPU(bb.e.pids(map[string]int{"bridge": worker.Pid(), "livekit": bb.lkPid, "sipp": bb.sipp.Pid(), "agents": agents.Pid()}))
	if err := sleep(ctx, o.Duration); err != nil {
		return nil, err
	}
	cpu := w.stop()
	run.CPU, run.Load = cpu, loadAverage()
	if capture != nil {
		if run.Wire, err = capture.finish(); err != nil {
			logf("  no wire timing: %v", err)
		}
	}
	if !worker.alive() || !agents.alive() {
		return nil, fmt.Errorf("%w during the window (see %s)", errChildGone, bb.logDir)
	}
	if err := worker.send("measured"); err != nil {
		return nil, err
	}

	if run.Sessions, err = bb.hangUp(ctx, worker, start, ids); err != nil {
		return nil, fmt.Errorf("%w (see %s)", err, logPath)
	}
	worker.stop()
	agents.stop()
	rooms.deleteAll(ctx)

	if run.Codec, err = bb.codec(ctx, "bridge", run.Up.Answered); err != nil {
		return nil, err
	}
	if run.RefCodec, err = bb.codec(ctx, "livekit", run.Up.Answered); err != nil {
		return nil, err
	}
	run.BridgePerCall = cpu.Procs["bridge"] / float64(run.Up.Answered)
	if run.Codec.PerCall > 0 {
		run.Ratio = run.BridgePerCall / run.Codec.PerCall
	}
	if run.RefCodec.PerCall > 0 {
		run.RefRatio = run.BridgePerCall / run.RefCodec.PerCall
	}
	run.Saturated = cpu.Machine >= 95*float64(numCPU())
	run.log()
	return run, nil
}

// place places n calls through the calls service at the benchmark's rate,
// each waiting until its INVITE is out, then waits until every call made
// since start is answered or failed.
func (bb *bridgeBench) place(ctx context.Context, start time.Time, n int, up *bridgeUp) ([]uuid.UUID, error) {
	var mu sync.Mutex
	var ids []uuid.UUID
	ol := openLoop{Rate: bb.o.Rate, Duration: time.Duration(n) * time.Duration(float64(time.Second)/bb.o.Rate), Timeout: 2 * time.Minute,
		Do: func(ctx context.Context, i int) error {
			req := bb.f.request(fmt.Sprintf("+91804431%04d", i), bb.trunk)
			md, _ := json.Marshal(req.Metadata)
			p, err := bb.calls.Place(ctx, calls.PlaceRequest{TenantID: bb.f.Tenant, Request: req, MetadataBytes: len(md), Wait: time.Minute})
			if err != nil {
				return err
			}
			mu.Lock()
			ids = append(ids, p.Call.ID)
			mu.Unlock()
			return nil
		}}
	s, err := ol.run(ctx)
	if err != nil {
		return nil, err
	}
	ramp := time.Since(start)
	counts, failure := bb.f.waitCalls(ctx, start, time.Minute, func(n map[dialq.CallStatus]int) bool {
		return n[dialq.StatusAnswered]+ended(n) >= len(ids)
	})
	*up = bridgeUp{Placed: len(ids), Answered: counts[dialq.StatusAnswered], Ramp: ramp,
		Failed: s.Errors + ended(counts), FirstError: cmp.Or(s.FirstError, failure)}
	return ids, nil
}

// hangUp hangs the calls ids up through the calls service, waits until
// every call made since is recorded as ended and returns the bridge's
// counters.
func (bb *bridgeBench) hangUp(ctx context.Context, worker *child, since time.Time, ids []uuid.UUID) (*sessionStats, error) {
	inParallel(len(ids), len(ids)+1, func(i int) { // all at once, as the calls end at the window's end
		if _, _, err := bb.calls.Hangup(ctx, bb.f.Tenant, ids[i]); err != nil {
			logf("  hang up %s: %v", ids[i], err)
		}
	})
	counts, _ := bb.f.waitCalls(ctx, since, time.Minute, func(n map[dialq.CallStatus]int) bool {
		return ended(n) >= len(ids)
	})
	if err := worker.send("stats"); err != nil {
		return nil, err
	}
	line, err := worker.await(ctx, "stats", 2*time.Minute)
	if err != nil {
		return nil, err
	}
	s := &sessionStats{Recorded: counts[dialq.StatusCompleted] + counts[dialq.StatusFailed]}
	if err := json.Unmarshal([]byte(line), &s.Stats); err != nil {
		return nil, fmt.Errorf("the worker said %q: %w", line, err)
	}
	return s, nil
}

// codec measures a bare codec arm (serveCodec's pipeline) for calls
// calls, over a window as long as the bridge's, once the calls have ended.
func (bb *bridgeBench) codec(ctx context.Context, pipeline string, calls int) (codecArm, error) {
	var arm codecArm
	c, err := startSelf(ctx, "bare codec", filepath.Join(bb.logDir, "bench-bridge-codec.log"), "bridge-codec",
		codecConfig{Streams: calls, Pipeline: pipeline})
	if err != nil {
		return arm, err
	}
	defer c.stop()
	frames := func() (int64, error) {
		if err := c.send("report"); err != nil {
			return 0, err
		}
		line, err := c.await(ctx, "frames", 10*time.Second)
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(line, 10, 64)
	}
	if err := sleep(ctx, min(bb.o.Warmup, 3*time.Second)); err != nil {
		return arm, err
	}
	f0, err := frames()
	if err != nil {
		return arm, err
	}
	start := time.Now()
	w := watchCPU(map[string]int{"codec": c.Pid()})
	if err := sleep(ctx, bb.o.Duration); err != nil {
		return arm, err
	}
	cpu := w.stop()
	f1, err := frames()
	if err != nil {
		return arm, err
	}
	arm.CPU = cpu.Procs["codec"]
	arm.Frames = float64(f1-f0) / time.Since(start).Seconds()
	arm.PerCall = arm.CPU / float64(calls)
	arm.Saturated = arm.Frames < 0.98*50*float64(calls)
	return arm, nil
}

// ended counts the calls of n that are over, whatever their end.
func ended(n map[dialq.CallStatus]int) int {
	total := 0
	for s, k := range n {
		if s.Terminal() {
			total += k
		}
	}
	return total
}
