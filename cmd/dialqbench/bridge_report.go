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
	nice := "at nice %d (the worker's DIALQ_BRIDGE_NICE default)"
	if o.Nice == 0 {
		nice = "at the default priority (DIALQ_BRIDGE_NICE=%d)"
	}
	nice = fmt.Sprintf(nice, o.Nice)
	p("dialq's bridge (sipua + sipbridge.Manager + relay with the Postgres store, one process %s, the worker's settings) dials a sipp phone "+
		"(`deploy/sipp/bench-phone.xml`: digest challenge, answers PCMA, says g711a.pcap's speech in a loop) for each call; in each room an "+
		"agent (one load-generator process for all) says the same speech as 20 ms Opus packets. Calls placed at %.0f/s on %s; %s warm-up after the "+
		"last answer, then %s measured. Two bare codec arms then run alone for as many calls, each in a process of its own, on the same audio, "+
		"at the same 20 ms pace, over as long a window: the **reference codec**, the issue's \"G.711 decode + resample + Opus encode and the "+
		"reverse\" with the pieces LiveKit's PCM tracks and livekit-sip use (A-law decode, soxr 8 → 48 kHz, Opus encode at 48 kHz with libopus "+
		"defaults; Opus decode at 48 kHz, soxr 48 → 8 kHz, A-law encode), which the target is measured against; and the **bridge's own codec** "+
		"(A-law decode, Opus encode at 8 kHz; Opus decode at 8 kHz, A-law encode), which skips the resampling, for what the bridge adds to "+
		"its own codec work. CPU in %% of one core (the machine has %d).\n\n", nice, o.Rate, lk, o.Warmup, o.Duration, nproc)
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
