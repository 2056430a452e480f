package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
	lkp "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// joinOptions configure the joined-phone probe.
type joinOptions struct {
	Rate        float64
	Warmup      time.Duration
	Duration    time.Duration
	HangUpAfter time.Duration
}

// joinResult is what a phone that really joins the room over WebRTC costs:
// the direct arm at a low rate with the double joining each call's room.
type joinResult struct {
	Options joinOptions `json:"options"`
	stats
	// CPUPerCall is CPU-seconds per call by process (livekit-server, the
	// double that runs the phones' WebRTC sessions, the bench).
	CPUPerCall map[string]float64 `json:"cpu_seconds_per_call"`
	// CoresAt200 projects livekit-server + double CPU to 200 calls/s.
	CoresAt200 float64 `json:"projected_cores_at_200"`
	// RTCPorts is the size of livekit-server's UDP port range.
	RTCPorts int `json:"rtc_ports"`
}

// runJoin places calls directly through a double whose phones join the
// room over WebRTC, at a rate the machine can take, and projects the cost
// to 200 calls/s.
func runJoin(ctx context.Context, e env, o joinOptions, logDir string) (*joinResult, error) {
	sip := lksdk.NewSIPClient(e.LiveKitURL, e.LiveKitAPIKey, e.LiveKitAPISecret)
	trunk, err := sip.CreateSIPOutboundTrunk(ctx, &lkp.CreateSIPOutboundTrunkRequest{Trunk: &lkp.SIPOutboundTrunkInfo{
		Name: "dialq-bench-join", Address: "127.0.0.1:5060", Numbers: []string{"+15550100000"}}})
	if err != nil {
		return nil, fmt.Errorf("create LiveKit outbound trunk: %w", err)
	}
	defer sip.DeleteSIPTrunk(context.Background(), &lkp.DeleteSIPTrunkRequest{SipTrunkId: trunk.SipTrunkId})

	logPath := filepath.Join(logDir, "bench-join.log")
	double, err := startSelf(ctx, "SIP double (joining)", logPath, "sipdouble", "-livekit", e.LiveKitURL,
		"-skip-room=false", "-invite-delay", "1ms", "-hang-up-after", o.HangUpAfter.String())
	if err != nil {
		return nil, err
	}
	defer double.stop()

	f := &fixture{Tenant: uuid.New(), Assistant: uuid.New(), AgentName: benchName("bench-agent-"),
		TrunkID: trunk.SipTrunkId, LKTrunkID: trunk.SipTrunkId}
	rooms := &roomJanitor{rooms: lksdk.NewRoomServiceClient(e.LiveKitURL, e.LiveKitAPIKey, e.LiveKitAPISecret)}
	direct := newDirectArm(e, double.Addr, f, time.Minute, rooms)
	lkPid := readPidFile(filepath.Join(e.StateDir, "run", "livekit.pid"))
	pids := map[string]int{"livekit": lkPid, "double": double.Pid(), "bench": os.Getpid()}
	ol := openLoop{Rate: o.Rate, Warmup: o.Warmup, Duration: o.Duration, Timeout: 30 * time.Second, Do: direct.call,
		Watch: func() func() cpuUse { return watchCPU(pids, nil).stop }}
	s, err := ol.run(ctx)
	if err != nil {
		return nil, err
	}
	// Let the phones hang up, then clear the rooms.
	_ = sleep(ctx, o.HangUpAfter+time.Second)
	rooms.deleteAll(ctx)

	res := &joinResult{Options: o, stats: s, CPUPerCall: map[string]float64{}, RTCPorts: rtcPorts(e.StateDir)}
	for name, pct := range s.CPU.Procs {
		res.CPUPerCall[name] = pct / 100 / o.Rate
	}
	res.CoresAt200 = (res.CPUPerCall["livekit"] + res.CPUPerCall["double"]) * 200
	logf("join probe %.0f calls/s  p50 %s  p99 %s  errors %d  cpu: machine %.0f%% livekit %.0f%% double %.0f%%  => %.1f cores at 200 calls/s",
		s.RPS, ms(s.P50), ms(s.P99), s.Errors, s.CPU.Machine, s.CPU.Procs["livekit"], s.CPU.Procs["double"], res.CoresAt200)
	if s.Errors > 0 {
		logf("  first error: %s", s.FirstError)
	}
	return res, nil
}

// rtcPorts reads the size of livekit-server's UDP port range from the
// stack's livekit.yaml; 0 if unknown.
func rtcPorts(stateDir string) int {
	b, err := os.ReadFile(filepath.Join(stateDir, "livekit.yaml"))
	if err != nil {
		return 0
	}
	get := func(key string) int {
		m := regexp.MustCompile(key + `:\s*(\d+)`).FindSubmatch(b)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	start, end := get("port_range_start"), get("port_range_end")
	if start == 0 || end < start {
		return 0
	}
	return end - start + 1
}
