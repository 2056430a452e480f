package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BridgeStats is what dialq's SIP bridge in a worker relayed so far
// (sipbridge.Manager.Stats): the counters only grow.
type BridgeStats struct {
	Live           int // calls bridged now
	Ended          int // bridged calls that ended since the worker started
	PacketsIn      uint64
	PacketsDropped uint64
	PacketsOut     uint64
	LateFrames     uint64
	FramesSkipped  uint64
	// SendJitter is the furthest behind its 20 ms schedule any frame to a
	// phone went out, in the calls bridged now (0 with none).
	SendJitter time.Duration
	// MaxSendJitter is the same over every call since the worker started.
	MaxSendJitter time.Duration
}

// bridgeCollector reads a BridgeStats at each scrape: the bridge counts
// for its own log already, so nothing on the media path pays for metrics.
type bridgeCollector struct {
	stats func() BridgeStats

	live, ended, in, dropped, out, late, skipped, jitter, maxJitter *prometheus.Desc
}

func bridgeDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "bridge", name), help, nil, nil)
}

// AddBridge exports what the SIP bridge relayed, read from stats at each
// scrape (the worker's; an API has no bridge).
func (m *Metrics) AddBridge(stats func() BridgeStats) {
	m.reg.MustRegister(&bridgeCollector{
		stats:     stats,
		live:      bridgeDesc("calls", "Calls dialq's SIP bridge holds now in this worker."),
		ended:     bridgeDesc("calls_ended_total", "Bridged calls that ended in this worker."),
		in:        bridgeDesc("rtp_packets_in_total", "RTP packets from the phones forwarded to the rooms."),
		dropped:   bridgeDesc("rtp_packets_dropped_total", "RTP packets from the phones dropped (malformed, early, from another address, unknown payload type, repeated or too late)."),
		out:       bridgeDesc("rtp_packets_out_total", "RTP packets sent to the phones."),
		late:      bridgeDesc("rtp_late_frames_total", "Frames to the phones sent more than 5 ms after their place in the 20 ms schedule."),
		skipped:   bridgeDesc("rtp_skipped_frames_total", "Frames to the phones never sent: the sender had fallen more than 60 ms behind (the process stalled)."),
		jitter:    bridgeDesc("send_jitter_seconds", "The furthest behind its schedule a frame to a phone went out, over the calls bridged now (0 with none)."),
		maxJitter: bridgeDesc("send_jitter_max_seconds", "The furthest behind its schedule a frame to a phone went out, over every call since the worker started."),
	})
}

func (c *bridgeCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{c.live, c.ended, c.in, c.dropped, c.out, c.late, c.skipped, c.jitter, c.maxJitter}
}

func (c *bridgeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

func (c *bridgeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.live, float64(s.Live))
	counter(c.ended, float64(s.Ended))
	counter(c.in, float64(s.PacketsIn))
	counter(c.dropped, float64(s.PacketsDropped))
	counter(c.out, float64(s.PacketsOut))
	counter(c.late, float64(s.LateFrames))
	counter(c.skipped, float64(s.FramesSkipped))
	gauge(c.jitter, s.SendJitter.Seconds())
	gauge(c.maxJitter, s.MaxSendJitter.Seconds())
}
