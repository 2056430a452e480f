// Package priority sets the CPU scheduling priority of the whole process.
//
// The Exotel bridge sends every call's audio to the phone as a 20 ms RTP
// frame on a schedule: a frame the worker sends late is a gap or a click
// the carrier's jitter buffer has to hide. On a host whose cores are busy
// (the worker's own codecs, or livekit-server and others beside it) the
// kernel lets other processes run first for a few milliseconds at a time,
// and those few milliseconds are the lateness. Telephony media servers run
// above normal priority for this reason (FreeSWITCH's -rp, Asterisk's -p);
// the worker does the same with a nice value, which cannot starve the rest
// of the host the way a real-time policy can.
package priority

// Bridge is the nice value a worker that bridges calls takes by default
// (DIALQ_BRIDGE_NICE): above everything at the default 0, below what the
// kernel's own workers use. Measured with make bench (docs/benchmarks.md).
const Bridge = -10
