package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/dialq/dialq/internal/sipbridge"
)

// Targets of the bridge benchmark, from the issue.
const (
	targetBridgeRatio   = 1.3 // bridge CPU per call / bare codec CPU per call
	targetBridgeLatePct = 1.0 // % of frames to the phones more than 5 ms late
	targetBridgeCalls   = 100 // calls at which the late-frame target applies
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
	CPU cpuUse `json:"cpu"`
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

// markdown renders the bridge benchmark's section of the figures.
func (r *bridgeResult) markdown(nproc int) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.Options
	lk := "a private livekit-server (one UDP port, warnings-only logs)"
	if o.SharedLiveKit {
		lk = "the stack's livekit-server"
	}
	p("#### Exotel bridge: concurrent bridged calls vs the bare codec work\n\n")
	nice := "at nice %d (the worker's DIALQ_BRIDGE_NICE default)"
	if o.Nice == 0 {
		nice = "at the default priority (DIALQ_BRIDGE_NICE=%d)"
	}
	nice = fmt.Sprintf(nice, o.Nice)
	p("A dialq worker with its SIP bridge (app.NewWorker with cmd/worker's settings but a TaskCheckInterval of %s, one process %s) takes "+
		"the calls placed through the calls service at %.0f/s; each call's dial task makes the room and the agent dispatch and the bridge dials "+
		"a sipp phone (`deploy/sipp/bench-phone.xml`: digest challenge, answers PCMA, says g711a.pcap's speech in a loop). In each room an "+
		"agent (one load-generator process for all) says the same speech as 20 ms Opus packets. Rooms on %s; %s warm-up after the "+
		"agents joined, then %s measured. Two bare codec arms then run alone for as many calls, each in a process of its own, on the same audio, "+
		"at the same 20 ms pace, over as long a window: the **reference codec**, the issue's \"G.711 decode + resample + Opus encode and the "+
		"reverse\" with the pieces LiveKit's PCM tracks and livekit-sip use (A-law decode, soxr 8 → 48 kHz, Opus encode at 48 kHz with libopus "+
		"defaults; Opus decode at 48 kHz, soxr 48 → 8 kHz, A-law encode), which the target is measured against; and the **bridge's own codec** "+
		"(A-law decode, Opus encode at 8 kHz; Opus decode at 8 kHz, A-law encode), which skips the resampling, for what the bridge adds to "+
		"its own codec work. CPU in %% of one core (the machine has %d).\n\n", o.TCI, nice, o.Rate, lk, o.Warmup, o.Duration, nproc)
	p("| calls | answered | bridge CPU %% | bridge %%/call | reference codec %%/call | ratio to it (target ≤ %.1f) | bridge's own codec %%/call | ratio to it | late frames %% (target < %.0f at %d calls) | send lateness p50 / p99 / p99.9 / max ms | frames seen (skipped) |\n",
		targetBridgeRatio, targetBridgeLatePct, targetBridgeCalls)
	p("|---:|---:|---:|---:|---:|---|---:|---|---|---|---:|\n")
	for _, run := range r.Runs {
		late := run.latePct()
		lateCell := fmt.Sprintf("%.2f", late)
		if run.Calls == targetBridgeCalls {
			lateCell += fmt.Sprintf(" **%s**", verdict(late < targetBridgeLatePct && run.Up.Answered == run.Calls))
		}
		lat, frames := "–", "–"
		if w := run.Wire; w != nil {
			lat = fmt.Sprintf("%s / %s / %s / %s", msf(w.P50), msf(w.P99), msf(w.P999), msf(w.Max))
			frames = fmt.Sprintf("%d (%d)", w.Frames, w.Skipped)
		}
		refRatio := fmt.Sprintf("%.2f **%s**", run.RefRatio, verdict(run.RefRatio <= targetBridgeRatio))
		if !run.ratioMeaningful(run.RefCodec, run.RefRatio) {
			refRatio = fmt.Sprintf("(%.2f) saturated: not a cost ratio", run.RefRatio)
		}
		ratio := fmt.Sprintf("%.2f", run.Ratio)
		if !run.ratioMeaningful(run.Codec, run.Ratio) {
			ratio = fmt.Sprintf("(%.2f) saturated: not a cost ratio", run.Ratio)
		}
		p("| %d | %d | %.1f | %.2f | %.2f | %s | %.2f | %s | %s | %s | %s |\n", run.Calls, run.Up.Answered, run.CPU.Procs["bridge"],
			run.BridgePerCall, run.RefCodec.PerCall, refRatio, run.Codec.PerCall, ratio, lateCell, lat, frames)
	}
	p("\nA run is saturated when the machine's cores were 95%% busy or more during the bridge's window, or a codec arm did " +
		"less than 98%% of its 50 frames a second a call: the CPU shares are then what each process got, not what it needed.\n")
	p("\nLate frames and lateness are timed on the wire: the kernel's timestamp of each RTP packet the bridge sent during the window " +
		"(captured on loopback), against its place in its call's 20 ms schedule (RTP timestamp), from the call's earliest frame in the window.\n\n")
	p("CPU during the measured window, and the codec arms' (%% of one core):\n\n")
	p("| calls | machine | bridge | livekit-server | sipp | agents | postgres | bench (capture) | reference codec (frames/s) | bridge's own codec (frames/s) | load average at window end |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, run := range r.Runs {
		c := run.CPU.Procs
		p("| %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f (%.0f) | %.1f (%.0f) | %s |\n", run.Calls, run.CPU.Machine, c["bridge"], c["livekit"],
			c["sipp"], c["agents"], c["postgres"], c["bench"], run.RefCodec.CPU, run.RefCodec.Frames, run.Codec.CPU, run.Codec.Frames, run.Load)
	}
	p("\nThe bridge's own counters (sipbridge.Manager.Stats once every call ended: whole calls, ramp and warm-up included):\n\n")
	p("| calls | sessions | RTP in | dropped | RTP out | late %% | frames skipped | max send jitter ms |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, run := range r.Runs {
		s := run.Sessions
		if s == nil {
			continue
		}
		p("| %d | %d | %d | %d | %d | %.2f | %d | %s |\n", run.Calls, s.Ended, s.PacketsIn, s.PacketsDropped, s.PacketsOut,
			s.LatePct(), s.FramesSkipped, msf(s.MaxSendJitter))
	}
	p("\n")
	return b.String()
}

// log prints the run's figures as progress.
func (r *bridgeRun) log() {
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
