package app

import (
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/priority"
	"github.com/dialq/dialq/internal/queue"
)

// ReadWorkerConfig reads the worker's config and log level through l and says
// which variable is wrong: what cmd/worker runs with, and what its -h and the
// README's table list (WorkerBinary).
func ReadWorkerConfig(l *envconf.Loader) (WorkerConfig, string, error) {
	sd := dialer.DefaultServerOptions(queue.QueueCalls)
	c := WorkerConfig{
		Redis:    ReadRedis(l),
		Channels: ReadChannels(l),
		LiveKit: livekit.Config{
			URL:              l.Required("LIVEKIT_URL"),
			APIKey:           l.Required("LIVEKIT_API_KEY"),
			APISecret:        l.Required("LIVEKIT_API_SECRET"),
			SIPURL:           l.String("LIVEKIT_SIP_URL", ""),
			RoomEmptyTimeout: l.Duration("DIALQ_ROOM_EMPTY_TIMEOUT", 5*time.Minute),
		},
		Dial: ReadDial(l),
		Server: dialer.ServerOptions{
			Concurrency:       l.Int("DIALQ_WORKER_CONCURRENCY", sd.Concurrency),
			TaskCheckInterval: l.Duration("DIALQ_TASK_CHECK_INTERVAL", sd.TaskCheckInterval),
			ShutdownTimeout:   l.Duration("DIALQ_SHUTDOWN_TIMEOUT", 0),
			RetryBase:         l.Duration("DIALQ_RETRY_BASE", sd.RetryBase),
			RetryCheck:        l.Duration("DIALQ_RETRY_CHECK_INTERVAL", sd.RetryCheck),
		},
		Campaigns: CampaignConfig{
			Concurrency: l.Int("DIALQ_CAMPAIGN_CONCURRENCY", 100),
			Tick:        l.Duration("DIALQ_CAMPAIGN_TICK", 250*time.Millisecond),
		},
		RingTimeout: l.Duration("DIALQ_RING_TIMEOUT", 30*time.Second),
		SweepAge:    l.Duration("DIALQ_SWEEP_AGE", time.Minute),
		Webhooks: WebhookConfig{
			Queue:        l.String("DIALQ_WEBHOOK_QUEUE", ""),
			AllowPrivate: l.Bool("DIALQ_WEBHOOK_ALLOW_PRIVATE", false),
			SweepAge:     l.Duration("DIALQ_WEBHOOK_SWEEP_AGE", 30*time.Second),
		},
		Limits:   ReadLimits(l),
		HTTPAddr: l.String("DIALQ_WORKER_HTTP_ADDR", "127.0.0.1:9091"),
	}
	c.DatabaseURL, c.DBMaxConns, c.Migrate = ReadDatabase(l)
	c.SecretKey = l.String("DIALQ_SECRET_KEY", "")
	// The API's address as make run serves it, unless told where agents
	// reach it.
	apiAddr := l.String("DIALQ_API_ADDR", "127.0.0.1:58080")
	if c.PublicURL = l.String("DIALQ_PUBLIC_URL", ""); c.PublicURL == "" {
		c.PublicURL = "http://" + apiAddr
	}
	bridge := BridgeConfig{
		SecretKey:       c.SecretKey,
		SIPListen:       l.String("DIALQ_SIP_LISTEN", "127.0.0.1:0"),
		SIPContactHost:  l.String("DIALQ_SIP_CONTACT_HOST", ""),
		RTPBindIP:       l.String("DIALQ_RTP_BIND_IP", "127.0.0.1"),
		NoRTPTimeout:    l.Duration("DIALQ_NO_RTP_TIMEOUT", 30*time.Second),
		MaxCallDuration: l.Duration("DIALQ_MAX_CALL_DURATION", time.Hour),
		DrainTimeout:    l.Duration("DIALQ_DRAIN_TIMEOUT", 2*time.Minute),
		Heartbeat:       l.Duration("DIALQ_BRIDGE_HEARTBEAT", 10*time.Second),
		Nice:            l.Int("DIALQ_BRIDGE_NICE", priority.Bridge),
	}
	if l.Bool("DIALQ_BRIDGE", true) {
		c.Bridge = &bridge
	}
	c.Reconcile = ReconcileConfig{
		Interval:    l.Duration("DIALQ_RECONCILE_INTERVAL", 5*time.Second),
		MaxDuration: bridge.MaxCallDuration,
		AgentGrace:  l.Duration("DIALQ_AGENT_GRACE", 30*time.Second),
	}
	level := l.String("DIALQ_LOG_LEVEL", "info")
	c.Server.Queue = c.Dial.Queue
	if c.Server.ShutdownTimeout == 0 {
		// Let a dial in flight finish ringing rather than cut it off.
		c.Server.ShutdownTimeout = c.RingTimeout + 15*time.Second
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.Check(false, "DIALQ_PUBLIC_URL", "must be an http(s) URL such as https://dialq.example.com, got %q", c.PublicURL)
	}
	l.Check(c.RingTimeout >= 5*time.Second, "DIALQ_RING_TIMEOUT", "must be at least 5s")
	l.Check(c.Dial.Timeout >= c.RingTimeout+30*time.Second, "DIALQ_DIAL_TIMEOUT",
		"(%s) must exceed DIALQ_RING_TIMEOUT (%s) by at least 30s, or a task would time out while the phone rings and be retried",
		c.Dial.Timeout, c.RingTimeout)
	l.Check(c.Server.Concurrency > 0, "DIALQ_WORKER_CONCURRENCY", "must be more than 0")
	l.Check(c.Campaigns.Concurrency > 0, "DIALQ_CAMPAIGN_CONCURRENCY", "must be more than 0")
	l.Check(c.Campaigns.Tick >= 10*time.Millisecond, "DIALQ_CAMPAIGN_TICK", "must be at least 10ms")
	l.Check(c.Server.TaskCheckInterval > 0, "DIALQ_TASK_CHECK_INTERVAL", "must be more than 0")
	l.Check(c.Server.RetryBase > 0, "DIALQ_RETRY_BASE", "must be more than 0")
	l.Check(c.Server.RetryCheck > 0, "DIALQ_RETRY_CHECK_INTERVAL", "must be more than 0")
	l.Check(c.SweepAge >= time.Second, "DIALQ_SWEEP_AGE", "must be at least 1s")
	l.Check(c.Webhooks.SweepAge >= time.Second, "DIALQ_WEBHOOK_SWEEP_AGE", "must be at least 1s")
	l.Check(bridge.NoRTPTimeout >= time.Second, "DIALQ_NO_RTP_TIMEOUT", "must be at least 1s")
	l.Check(bridge.MaxCallDuration >= time.Minute, "DIALQ_MAX_CALL_DURATION", "must be at least 1m")
	l.Check(c.Reconcile.Interval >= 100*time.Millisecond, "DIALQ_RECONCILE_INTERVAL", "must be at least 100ms")
	l.Check(c.Reconcile.AgentGrace >= 0, "DIALQ_AGENT_GRACE", "must not be negative (0 turns the check off)")
	l.Check(bridge.DrainTimeout >= 0, "DIALQ_DRAIN_TIMEOUT", "must not be negative")
	l.Check(bridge.Heartbeat >= time.Second, "DIALQ_BRIDGE_HEARTBEAT", "must be at least 1s")
	l.Check(bridge.Nice >= -20 && bridge.Nice <= 0, "DIALQ_BRIDGE_NICE", "must be from -20 to 0")
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || !validPort(port) {
		l.Check(false, "DIALQ_WORKER_HTTP_ADDR", "must be host:port such as 127.0.0.1:9091 (port 0 picks one), got %q", c.HTTPAddr)
	}
	return c, level, l.Err()
}

// WorkerBinary is cmd/worker's config reader, for its -h and dialqctl env-docs.
var WorkerBinary = envconf.Binary{Name: "worker", Summary: "dialq's worker: takes the dial tasks off the queue and places the calls through LiveKit or dialq's own SIP bridge; schedules campaigns and delivers webhooks.",
	Read: func(l *envconf.Loader) { ReadWorkerConfig(l) }}

// validPort reports whether p is a TCP port number, 0 (any) included.
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}
