package main

import (
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
	"github.com/dialq/dialq/internal/sipbridge"
)

// Targets of the bridge benchmark, from the issue.
const (
	targetBridgeRatio   = 1.3 // bridge CPU per call / bare codec CPU per call
	targetBridgeLatePct = 1.0 // % of frames to the phones more than 5 ms late
	targetBridgeCalls   = 100 // calls at which the late-frame target applies
)

// The bridge benchmark's RTP ports (the Exotel trunk's range), away from
// make run's 58100-58299, the tests' ports (testenv.PortBlock: 10000-20999)
// and the relay tests' 21000-22003, below Linux's ephemeral range.
const (
	bridgeRTPMin = 24000
	bridgeRTPMax = 25999
)

// bridgeOptions configure the bridge benchmark.
type bridgeOptions struct {
	// Calls are the numbers of concurrent calls to measure, one run each.
	Calls    []int         `json:"calls"`
	Rate     float64       `json:"rate"` // calls placed per second
	Warmup   time.Duration `json:"warmup_ns"`
	Duration time.Duration `json:"duration_ns"`
	// SharedLiveKit uses the stack's livekit-server instead of a private one.
	SharedLiveKit bool `json:"shared_livekit"`
	Capture       bool `json:"capture"` // time the frames to the phones on the wire
	// Nice is the bridge's nice value, as the worker's DIALQ_BRIDGE_NICE.
	Nice     int    `json:"nice"`
	Scenario string `json:"scenario"`
	// TCI is the worker's TaskCheckInterval (see benchmark (c)).
	TCI time.Duration `json:"tci_ns"`
}

// bridgeUp is how the calls came up: once every call placed is answered or
// failed.
type bridgeUp struct {
	Placed     int    `json:"placed"`
	Answered   int    `json:"answered"`
	Failed     int    `json:"failed"`
	FirstError string `json:"first_error,omitempty"`
	// Ramp is how long placing the calls took, until the last INVITE was out.
	Ramp time.Duration `json:"ramp_ns"`
}

// sessionStats is what the worker's bridge says its calls relayed
// (sipbridge.Manager.Stats), read once every call has ended: whole calls,
// from the answer to the hang-up, not only the measured window.
type sessionStats struct {
	sipbridge.Stats
	// Recorded counts the calls recorded completed or failed after the
	// hang-up.
	Recorded int `json:"recorded"`
}

// bridgeResult is the bridge benchmark's outcome: one run per number of
// calls.
type bridgeResult struct {
	Options bridgeOptions `json:"options"`
	Runs    []bridgeRun   `json:"runs"`
}

// bridgeRun is one number of concurrent calls.
type bridgeRun struct {
	Calls int      `json:"calls"`
	Up    bridgeUp `json:"up"`
	// CPU is the measured window's CPU by process: bridge, livekit, sipp,
	// agents, postgres, bench (this process, which runs the capture).
	CPU *cpuUse `json:"cpu"`
	// Codec is the bare codec arm in the bridge's own pipeline (8 kHz Opus);
	// RefCodec in the reference pipeline (G.711 + soxr resample +
	// 48 kHz Opus, LiveKit's pieces). Each over a window as long as the
	// bridge's, for Up.Answered calls.
	Codec    codecArm `json:"codec"`
	RefCodec codecArm `json:"ref_codec"`
	// BridgePerCall is the bridge's CPU per call, in % of one core; Ratio
	// and RefRatio compare it with the two arms' per call.
	BridgePerCall float64 `json:"bridge_pct_per_call"`
	Ratio         float64 `json:"ratio"`
	RefRatio      float64 `json:"ref_ratio"`
	// Wire is the frames to the phones during the window, as captured on
	// loopback; nil without the capture.
	Wire *wireStats `json:"wire,omitempty"`
	// Sessions is what the bridge's own counters say of the whole calls.
	Sessions *sessionStats `json:"sessions,omitempty"`
	Load     string        `json:"load_at_window_end"`
	// Saturated says the machine's cores were busy (95% or more) during the
	// bridge's window: the bridge then got less CPU than it wanted and its
	// share per call says nothing of its cost.
	Saturated bool `json:"saturated"`
}

// codecArm is one bare codec arm's measurement.
type codecArm struct {
	// CPU is the arm's process over the window, in % of one core; Frames the
	// 20 ms frames (both directions of a call) it did per second, which
	// should be 50 a call; PerCall its CPU per call.
	CPU     float64 `json:"cpu_pct"`
	Frames  float64 `json:"frames_per_sec"`
	PerCall float64 `json:"pct_per_call"`
	// Saturated says the arm did less than 98% of its frames: it was short
	// of CPU and its share says nothing of its cost.
	Saturated bool `json:"saturated"`
}

// ratioMeaningful says whether a ratio to arm compares costs: neither side
// was short of CPU.
func (r *bridgeRun) ratioMeaningful(arm codecArm, ratio float64) bool {
	return !r.Saturated && !arm.Saturated && ratio > 0
}

// latePct is the run's late-frame share: on the wire if captured, else the
// sessions' own counters.
func (r *bridgeRun) latePct() float64 {
	if r.Wire != nil {
		return r.Wire.LatePct()
	}
	if r.Sessions != nil {
		return r.Sessions.LatePct()
	}
	return 0
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
	if _, err := exec.LookPath("sipp"); err != nil {
		return nil, fmt.Errorf("sipp is not installed: install Debian's sip-tester (deploy/stack.sh tools does)")
	}
	if _, err := phoneSpeech(); err != nil {
		return nil, err
	}
	scenario, err := filepath.Abs(o.Scenario)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(scenario); err != nil {
		return nil, fmt.Errorf("sipp scenario: %w", err)
	}

	lkURL, lkPid := e.LiveKitURL, readPidFile(filepath.Join(e.StateDir, "run", "livekit.pid"))
	if !o.SharedLiveKit {
		lk, url, err := startPrivateLiveKit(ctx, e, filepath.Join(logDir, "bench-bridge-livekit.log"))
		if err != nil {
			return nil, err
		}
		defer lk.stop()
		lkURL, lkPid = url, lk.Pid()
		logf("bridge: private livekit-server at %s (pid %d)", url, lkPid)
	}

	sipPort, mediaPort, err := sippPorts()
	if err != nil {
		return nil, err
	}
	sipp, err := startChild(ctx, "sipp phone", filepath.Join(logDir, "bench-bridge-sipp.log"), false, "sipp",
		"-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(sipPort), "-t", "t1",
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(mediaPort), "-nostdin", "-f", "5",
		"-trace_err", "-error_file", filepath.Join(logDir, "bench-bridge-sipp-errors.log"))
	if err != nil {
		return nil, err
	}
	defer sipp.stop()
	if err := awaitTCPListen(ctx, sipp, sipPort); err != nil {
		return nil, err
	}

	f, err := newFixture(ctx, e, "")
	if err != nil {
		return nil, err
	}
	defer f.close()
	key := secret.NewKey()
	box, err := secret.BoxFromKey(key)
	if err != nil {
		return nil, err
	}
	f.DB.UseSecrets(box)
	trunk := &dialq.SIPTrunkConfig{SIPHost: "127.0.0.1", SIPPort: sipPort, Transport: "tcp", FromDomain: "exotel.local",
		CallerID: "08044319240", Username: "exotel-bench", Password: "dialq-bench-sip",
		MediaIP: "127.0.0.1", RTPPortMin: bridgeRTPMin, RTPPortMax: bridgeRTPMax}
	if err := trunk.Normalize(dialq.Exotel); err != nil {
		return nil, err
	}
	trunkID := benchName("ST_bench_exotel_")
	if err := f.DB.SaveTrunk(ctx, &dialq.Trunk{ID: trunkID, TenantID: f.Tenant, Name: "bench exotel (sipp)",
		Provider: dialq.ServiceExotel, SIP: trunk}); err != nil {
		return nil, fmt.Errorf("save the Exotel trunk: %w", err)
	}

	procs := dialqProcs{Worker: true, DSN: f.DSN, Redis: e.RedisAddr, Queue: benchName("bench_bridge_"), Channel: benchName("bench:ch:"),
		LiveKit: lkURL, TCI: o.TCI, SecretKey: key, Nice: o.Nice}
	rdb := redis.NewClient(&redis.Options{Addr: e.RedisAddr})
	defer rdb.Close()
	defer deleteQueues(rdb, procs.Queue)
	apiLog, err := os.OpenFile(filepath.Join(logDir, "bench-bridge-api.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer apiLog.Close()
	api, err := app.NewAPI(ctx, procs.apiConfig(), logging.New(apiLog, "warn").With("service", "api"))
	if err != nil {
		return nil, err
	}
	apiCtx, stopAPI := context.WithCancel(ctx)
	apiDone := make(chan error, 1)
	go func() { apiDone <- api.Run(apiCtx) }()
	defer func() {
		stopAPI()
		<-apiDone
		api.Close()
	}()

	res := &bridgeResult{Options: o}
	bs := bridgeSetup{e: e, o: o, lkURL: lkURL, lkPid: lkPid, sipp: sipp, mediaPort: mediaPort, f: f, trunkID: trunkID,
		procs: procs, calls: api.Calls, logDir: logDir}
	for _, n := range o.Calls {
		run, err := bs.run(ctx, n)
		if err != nil {
			return res, fmt.Errorf("%d calls: %w", n, err)
		}
		res.Runs = append(res.Runs, *run)
	}
	return res, nil
}

// bridgeSetup is what the runs of the bridge benchmark share.
type bridgeSetup struct {
	e         env
	o         bridgeOptions
	lkURL     string
	lkPid     int
	sipp      *child
	mediaPort int // the phones' RTP port
	f         *fixture
	trunkID   string
	procs     dialqProcs     // the worker
	calls     *calls.Service // the API's
	logDir    string
}

// run measures n concurrent calls.
func (bs *bridgeSetup) run(ctx context.Context, n int) (*bridgeRun, error) {
	o := bs.o
	logPath := filepath.Join(bs.logDir, "bench-bridge.log")
	worker, err := bs.procs.start(ctx, "dialq worker (bridge)", logPath)
	if err != nil {
		return nil, err
	}
	defer worker.stop()
	if nice := procNice(worker.Pid()); nice != o.Nice {
		return nil, fmt.Errorf("the worker runs at nice %d, not %d (it needs CAP_SYS_NICE; -bridge-nice 0 measures at the default priority)", nice, o.Nice)
	}
	rooms := &roomJanitor{rooms: lksdk.NewRoomServiceClient(bs.lkURL, bs.e.LiveKitAPIKey, bs.e.LiveKitAPISecret)}
	defer rooms.deleteAll(context.WithoutCancel(ctx))

	start := time.Now()
	run := &bridgeRun{Calls: n}
	ids, err := bs.place(ctx, n, &run.Up)
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
	names := rooms.addFrom(ctx, bs.f, start)
	agents, err := startSelf(ctx, "agents", filepath.Join(bs.logDir, "bench-bridge-agents.log"), "bridge-agents",
		"-livekit", bs.lkURL, "-rooms", strings.Join(names, ","))
	if err != nil {
		return nil, err
	}
	defer agents.stop()
	if err := sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}

	var capture *rtpCapture
	if o.Capture {
		if capture, err = startRTPCapture(bridgeRTPMin, bridgeRTPMax, bs.mediaPort); err != nil {
			logf("  no wire timing: %v", err)
		}
	}
	if err := worker.send("measure"); err != nil {
		return nil, err
	}
	pids := map[string]int{"bridge": worker.Pid(), "livekit": bs.lkPid, "sipp": bs.sipp.Pid(), "agents": agents.Pid(),
		"postgres": readPidFile(filepath.Join(bs.e.StateDir, "run", "postgres.pid")), "bench": os.Getpid()}
	w := watchCPU(pids, map[string]bool{"postgres": true})
	if err := sleep(ctx, o.Duration); err != nil {
		return nil, err
	}
	cpu := w.stop()
	run.CPU = &cpu
	run.Load = loadAverage()
	if capture != nil {
		if run.Wire, err = capture.finish(); err != nil {
			logf("  no wire timing: %v", err)
		}
	}
	if !worker.alive() || !agents.alive() {
		return nil, fmt.Errorf("%w during the window (see %s)", errChildGone, bs.logDir)
	}
	if err := worker.send("measured"); err != nil {
		return nil, err
	}

	if run.Sessions, err = bs.hangup(ctx, worker, ids); err != nil {
		return nil, fmt.Errorf("%w (see %s)", err, logPath)
	}
	worker.stop()
	agents.stop()
	rooms.deleteAll(ctx)

	if run.Codec, err = bs.codec(ctx, "bridge", run.Up.Answered); err != nil {
		return nil, err
	}
	if run.RefCodec, err = bs.codec(ctx, "livekit", run.Up.Answered); err != nil {
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
	bs.log(run)
	return run, nil
}

// place places n calls through the calls service at the benchmark's rate,
// each waiting until its INVITE is out, then waits until every call is
// answered or failed.
func (bs *bridgeSetup) place(ctx context.Context, n int, up *bridgeUp) ([]uuid.UUID, error) {
	var (
		mu  sync.Mutex
		ids []uuid.UUID
	)
	interval := time.Duration(float64(time.Second) / bs.o.Rate)
	start := time.Now()
	ol := openLoop{Rate: bs.o.Rate, Duration: time.Duration(n) * interval, Timeout: 2 * time.Minute,
		Do: func(ctx context.Context, i int) error {
			req := bs.f.request(fmt.Sprintf("+91804431%04d", i), dialq.ServiceExotel, bs.trunkID)
			md, _ := json.Marshal(req.Metadata)
			p, err := bs.calls.Place(ctx, calls.PlaceRequest{TenantID: bs.f.Tenant, Request: req, MetadataBytes: len(md), Wait: time.Minute})
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
	up.Ramp, up.Placed, up.FirstError = time.Since(start), len(ids), s.FirstError
	counts, firstFailure := bs.f.waitCalls(ctx, time.Minute, func(n map[dialq.CallStatus]int) bool {
		return n[dialq.StatusAnswered]+n[dialq.StatusFailed]+n[dialq.StatusCompleted] >= len(ids)
	})
	up.Answered = counts[dialq.StatusAnswered]
	up.Failed = s.Errors + counts[dialq.StatusFailed] + counts[dialq.StatusCompleted]
	if up.FirstError == "" {
		up.FirstError = firstFailure
	}
	return ids, nil
}

// hangup hangs every call up through the calls service, waits until each
// is recorded as ended and returns the bridge's counters.
func (bs *bridgeSetup) hangup(ctx context.Context, worker *child, ids []uuid.UUID) (*sessionStats, error) {
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if _, _, err := bs.calls.Hangup(ctx, bs.f.Tenant, id); err != nil {
				logf("  hang up %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	counts, _ := bs.f.waitCalls(ctx, time.Minute, func(n map[dialq.CallStatus]int) bool {
		return n[dialq.StatusCompleted]+n[dialq.StatusFailed] >= len(ids)
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

// codec measures a bare codec arm (serveCodec's -pipeline) for calls
// calls, over a window as long as the bridge's, once the calls have ended.
func (bs *bridgeSetup) codec(ctx context.Context, pipeline string, calls int) (codecArm, error) {
	var arm codecArm
	c, err := startSelf(ctx, "bare codec", filepath.Join(bs.logDir, "bench-bridge-codec.log"), "bridge-codec",
		"-streams", strconv.Itoa(calls), "-pipeline", pipeline)
	if err != nil {
		return arm, err
	}
	defer c.stop()
	if err := sleep(ctx, min(bs.o.Warmup, 3*time.Second)); err != nil {
		return arm, err
	}
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
	f0, err := frames()
	if err != nil {
		return arm, err
	}
	start := time.Now()
	w := watchCPU(map[string]int{"codec": c.Pid()}, nil)
	if err := sleep(ctx, bs.o.Duration); err != nil {
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

func (bs *bridgeSetup) log(r *bridgeRun) {
	c := r.CPU.Procs
	logf("bridge %d calls: bridge %.1f%% (%.2f%%/call); bare codec 8 kHz %.1f%% (%.2f%%/call, %.0f frames/s), ratio %.2f; "+
		"reference codec 48 kHz %.1f%% (%.2f%%/call, %.0f frames/s), ratio %.2f; "+
		"cpu: machine %.0f%% livekit %.0f%% sipp %.0f%% agents %.0f%% postgres %.0f%% bench %.0f%%; load %s",
		r.Calls, c["bridge"], r.BridgePerCall, r.Codec.CPU, r.Codec.PerCall, r.Codec.Frames, r.Ratio,
		r.RefCodec.CPU, r.RefCodec.PerCall, r.RefCodec.Frames, r.RefRatio,
		r.CPU.Machine, c["livekit"], c["sipp"], c["agents"], c["postgres"], c["bench"], r.Load)
	if r.Saturated || r.Codec.Saturated || r.RefCodec.Saturated {
		logf("  saturated (bridge window %v, bare codec %v, reference codec %v): the CPU shares are what each got, not what it needed",
			r.Saturated, r.Codec.Saturated, r.RefCodec.Saturated)
	}
	if w := r.Wire; w != nil {
		logf("  wire: %d frames of %d calls, late %.2f%%, lateness p50 %s p99 %s p99.9 %s max %s, skipped %d, capture drops %d",
			w.Frames, w.Calls, w.LatePct(), ms(w.P50), ms(w.P99), ms(w.P999), ms(w.Max), w.Skipped, w.Drops)
	}
	if s := r.Sessions; s != nil {
		logf("  sessions (whole calls): %d closed, in %d dropped %d out %d, late %.2f%%, skipped %d, max send jitter %s",
			s.Ended, s.PacketsIn, s.PacketsDropped, s.PacketsOut, s.LatePct(), s.FramesSkipped, ms(s.MaxSendJitter))
	}
}

// sippPorts returns a SIP port and a media port for sipp, free on
// 127.0.0.1 now, below Linux's ephemeral range (a port there may still have
// a connection in TIME_WAIT, which sipp's bind refuses) and away from the
// bridge's RTP ports. sipp binds four media ports from the media port.
func sippPorts() (sip, media int, err error) {
	for range 100 {
		base := 28000 + 8*rand.IntN(240)
		if localport.Free(base, 8) {
			return base, base + 2, nil
		}
	}
	return 0, 0, fmt.Errorf("no free ports for sipp in 28000-29919")
}

// awaitTCPListen waits until c listens on 127.0.0.1:port, as /proc/net/tcp
// shows it (sipp has no readiness signal).
func awaitTCPListen(ctx context.Context, c *child, port int) error {
	local := fmt.Sprintf("0100007F:%04X", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile("/proc/net/tcp")
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 3 && f[1] == local && f[3] == "0A" {
				return nil
			}
		}
		if !c.alive() {
			return fmt.Errorf("%s exited before listening on port %d", c.name, port)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not listening on port %d after 10s", c.name, port)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}
