package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
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
	d, err := newDirect(ctx, e, filepath.Join(logDir, "bench-join.log"),
		doubleConfig{InviteDelay: time.Millisecond, HangUpAfter: o.HangUpAfter}, time.Minute)
	if err != nil {
		return nil, err
	}
	defer d.close()
	ol := openLoop{Rate: o.Rate, Warmup: o.Warmup, Duration: o.Duration, Timeout: 30 * time.Second, Do: d.call,
		CPU: map[string]int{"livekit": e.pids(nil)["livekit"], "double": d.double.Pid(), "bench": os.Getpid()}}
	s, err := ol.run(ctx)
	if err != nil {
		return nil, err
	}
	// Let the phones hang up, then clear the rooms.
	_ = sleep(ctx, o.HangUpAfter+time.Second)
	d.rooms.deleteAll(ctx)

	res := &joinResult{Options: o, stats: s, CPUPerCall: map[string]float64{}, RTCPorts: rtcPorts(e.StateDir)}
	for name, pct := range s.CPU.Procs {
		res.CPUPerCall[name] = pct / 100 / o.Rate
	}
	res.CoresAt200 = (res.CPUPerCall["livekit"] + res.CPUPerCall["double"]) * 200
	logf("join probe %s  => %.1f cores at 200 calls/s", s, res.CoresAt200)
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
