package main

import (
	"fmt"
	"strings"
)

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
	p("dialq's bridge (sipua + bridge.Manager + rtpbridge with the Postgres store, one process, the worker's settings) dials a sipp phone "+
		"(`deploy/sipp/bench-phone.xml`: digest challenge, answers PCMA, says g711a.pcap's speech in a loop) for each call; in each room an "+
		"agent (one load-generator process for all) says the same speech as 20 ms Opus packets. Calls placed at %.0f/s on %s; %s warm-up after the "+
		"last answer, then %s measured. Bare codec: the bridge's codec pipeline alone (A-law decode, Opus encode at 8 kHz; Opus decode "+
		"at 8 kHz, A-law encode, every 20 ms) for as many calls, in a process of its own, on the same audio, over as long a window, after the calls ended. "+
		"CPU in %% of one core (the machine has %d).\n\n", o.Rate, lk, o.Warmup, o.Duration, nproc)
	p("| calls | answered | bridge CPU %% | bridge %%/call | bare codec %%/call | ratio (target ≤ %.1f) | late frames %% (target < %.0f at %d calls) | send lateness p50 / p99 / p99.9 / max ms | frames seen (skipped) |\n",
		targetBridgeRatio, targetBridgeLatePct, targetBridgeCalls)
	p("|---:|---:|---:|---:|---:|---|---|---|---:|\n")
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
		ratio := fmt.Sprintf("%.2f **%s**", run.Ratio, verdict(run.Ratio <= targetBridgeRatio))
		if !run.ratioMeaningful() {
			ratio = fmt.Sprintf("(%.2f) saturated: not a cost ratio", run.Ratio)
		}
		p("| %d | %d | %.1f | %.2f | %.2f | %s | %s | %s | %s |\n", run.Calls, run.Up.Answered, run.CPU.Procs["bridge"],
			run.BridgePerCall, run.CodecPerCall, ratio, lateCell, lat, frames)
	}
	p("\nA run is saturated when the machine's cores were 95%% busy or more during the bridge's window, or the bare codec arm did " +
		"less than 98%% of its 50 frames a second a call: the CPU shares are then what each process got, not what it needed.\n")
	p("\nLate frames and lateness are timed on the wire: the kernel's timestamp of each RTP packet the bridge sent during the window " +
		"(captured on loopback), against its place in its call's 20 ms schedule (RTP timestamp), from the call's earliest frame in the window.\n\n")
	p("CPU during the measured window, and the bare codec arm's (%% of one core):\n\n")
	p("| calls | machine | bridge | livekit-server | sipp | agents | postgres | bench (capture) | bare codec | codec frames/s | load average at window end |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, run := range r.Runs {
		c := run.CPU.Procs
		p("| %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %s |\n", run.Calls, run.CPU.Machine, c["bridge"], c["livekit"],
			c["sipp"], c["agents"], c["postgres"], c["bench"], run.CodecCPU, run.CodecFrames, run.Load)
	}
	p("\nThe bridge's own counters (rtpbridge.Stats as each session logged them when it closed: whole calls, ramp and warm-up included):\n\n")
	p("| calls | sessions | RTP in | dropped | RTP out | late %% | max send jitter ms | per-call max jitter p50 / p99 ms |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, run := range r.Runs {
		s := run.Sessions
		if s == nil {
			continue
		}
		p("| %d | %d | %d | %d | %d | %.2f | %s | %s / %s |\n", run.Calls, s.Sessions, s.PacketsIn, s.PacketsDropped, s.PacketsOut,
			s.LatePct(), msf(s.MaxSendJitter), msf(s.MaxJitterP50), msf(s.MaxJitterP99))
	}
	p("\n")
	return b.String()
}
