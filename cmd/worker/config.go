package main

import (
	"time"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/priority"
	"github.com/dialq/dialq/internal/queue"
)

// config is everything the worker reads from its environment.
type config struct {
	DatabaseURL string // DATABASE_URL
	DBMaxConns  int    // DIALQ_DB_MAX_CONNS
	Migrate     bool   // DIALQ_MIGRATE

	RedisAddr     string // REDIS_ADDR
	RedisPassword string // REDIS_PASSWORD
	RedisDB       int    // REDIS_DB
	NotifyChannel string // DIALQ_NOTIFY_CHANNEL

	LiveKitURL       string        // LIVEKIT_URL
	LiveKitAPIKey    string        // LIVEKIT_API_KEY
	LiveKitAPISecret string        // LIVEKIT_API_SECRET
	LiveKitSIPURL    string        // LIVEKIT_SIP_URL: defaults to LIVEKIT_URL
	RoomEmptyTimeout time.Duration // DIALQ_ROOM_EMPTY_TIMEOUT

	Dial        queue.DialOptions    // DIALQ_QUEUE, DIALQ_DIAL_MAX_RETRY, DIALQ_DIAL_TIMEOUT, DIALQ_TASK_RETENTION
	Server      dialer.ServerOptions // DIALQ_QUEUE, DIALQ_WORKER_CONCURRENCY, DIALQ_TASK_CHECK_INTERVAL, DIALQ_RETRY_BASE, DIALQ_RETRY_CHECK_INTERVAL, DIALQ_SHUTDOWN_TIMEOUT
	RingTimeout time.Duration        // DIALQ_RING_TIMEOUT
	SweepAge    time.Duration        // DIALQ_SWEEP_AGE: re-enqueue calls queued longer than this

	// The Exotel bridge.
	Bridge          bool          // DIALQ_BRIDGE: dial Exotel trunks from this worker
	SecretKey       string        // DIALQ_SECRET_KEY: opens the trunks' sealed SIP passwords
	SIPListen       string        // DIALQ_SIP_LISTEN: where in-dialog SIP requests (BYE, re-INVITE) arrive
	SIPContactHost  string        // DIALQ_SIP_CONTACT_HOST: the address Exotel reaches the SIP listener at
	RTPBindIP       string        // DIALQ_RTP_BIND_IP: local address of the calls' RTP ports
	NoRTPTimeout    time.Duration // DIALQ_NO_RTP_TIMEOUT: an answered call with no audio this long ends
	MaxCallDuration time.Duration // DIALQ_MAX_CALL_DURATION
	DrainTimeout    time.Duration // DIALQ_DRAIN_TIMEOUT: on SIGTERM, how long live calls may go on
	BridgeHeartbeat time.Duration // DIALQ_BRIDGE_HEARTBEAT: how often the worker vouches for its calls
	BridgeNice      int           // DIALQ_BRIDGE_NICE: the worker's nice value while it bridges calls; 0 leaves it

	LogLevel string // DIALQ_LOG_LEVEL
}

func loadConfig() (config, error) {
	l := envconf.New()
	d := queue.DefaultDialOptions()
	sd := dialer.DefaultServerOptions(d.Queue)
	c := config{
		DatabaseURL:      l.Required("DATABASE_URL"),
		DBMaxConns:       l.Int("DIALQ_DB_MAX_CONNS", 20),
		Migrate:          l.Bool("DIALQ_MIGRATE", true),
		RedisAddr:        l.String("REDIS_ADDR", "127.0.0.1:6379"),
		RedisPassword:    l.String("REDIS_PASSWORD", ""),
		RedisDB:          l.Int("REDIS_DB", 0),
		NotifyChannel:    l.String("DIALQ_NOTIFY_CHANNEL", ""),
		LiveKitURL:       l.Required("LIVEKIT_URL"),
		LiveKitAPIKey:    l.Required("LIVEKIT_API_KEY"),
		LiveKitAPISecret: l.Required("LIVEKIT_API_SECRET"),
		LiveKitSIPURL:    l.String("LIVEKIT_SIP_URL", ""),
		RoomEmptyTimeout: l.Duration("DIALQ_ROOM_EMPTY_TIMEOUT", 5*time.Minute),
		Dial: queue.DialOptions{
			Queue:     l.String("DIALQ_QUEUE", d.Queue),
			MaxRetry:  l.Int("DIALQ_DIAL_MAX_RETRY", d.MaxRetry),
			Timeout:   l.Duration("DIALQ_DIAL_TIMEOUT", d.Timeout),
			Retention: l.Duration("DIALQ_TASK_RETENTION", d.Retention),
		},
		Server: dialer.ServerOptions{
			Concurrency:       l.Int("DIALQ_WORKER_CONCURRENCY", sd.Concurrency),
			TaskCheckInterval: l.Duration("DIALQ_TASK_CHECK_INTERVAL", sd.TaskCheckInterval),
			ShutdownTimeout:   l.Duration("DIALQ_SHUTDOWN_TIMEOUT", 0),
			RetryBase:         l.Duration("DIALQ_RETRY_BASE", sd.RetryBase),
			RetryCheck:        l.Duration("DIALQ_RETRY_CHECK_INTERVAL", sd.RetryCheck),
		},
		RingTimeout:     l.Duration("DIALQ_RING_TIMEOUT", 30*time.Second),
		SweepAge:        l.Duration("DIALQ_SWEEP_AGE", time.Minute),
		Bridge:          l.Bool("DIALQ_BRIDGE", true),
		SecretKey:       l.String("DIALQ_SECRET_KEY", ""),
		SIPListen:       l.String("DIALQ_SIP_LISTEN", "127.0.0.1:0"),
		SIPContactHost:  l.String("DIALQ_SIP_CONTACT_HOST", ""),
		RTPBindIP:       l.String("DIALQ_RTP_BIND_IP", "127.0.0.1"),
		NoRTPTimeout:    l.Duration("DIALQ_NO_RTP_TIMEOUT", 30*time.Second),
		MaxCallDuration: l.Duration("DIALQ_MAX_CALL_DURATION", time.Hour),
		DrainTimeout:    l.Duration("DIALQ_DRAIN_TIMEOUT", 2*time.Minute),
		BridgeHeartbeat: l.Duration("DIALQ_BRIDGE_HEARTBEAT", 10*time.Second),
		BridgeNice:      l.Int("DIALQ_BRIDGE_NICE", priority.Bridge),
		LogLevel:        l.String("DIALQ_LOG_LEVEL", "info"),
	}
	c.Server.Queue = c.Dial.Queue
	if c.Server.ShutdownTimeout == 0 {
		// Let a dial in flight finish ringing rather than cut it off.
		c.Server.ShutdownTimeout = c.RingTimeout + 15*time.Second
	}
	l.Check(c.RingTimeout >= 5*time.Second, "DIALQ_RING_TIMEOUT", "must be at least 5s")
	l.Check(c.Dial.Timeout >= c.RingTimeout+30*time.Second, "DIALQ_DIAL_TIMEOUT",
		"(%s) must exceed DIALQ_RING_TIMEOUT (%s) by at least 30s, or a task would time out while the phone rings and be retried",
		c.Dial.Timeout, c.RingTimeout)
	l.Check(c.Server.Concurrency > 0, "DIALQ_WORKER_CONCURRENCY", "must be more than 0")
	l.Check(c.Server.TaskCheckInterval > 0, "DIALQ_TASK_CHECK_INTERVAL", "must be more than 0")
	l.Check(c.Server.RetryBase > 0, "DIALQ_RETRY_BASE", "must be more than 0")
	l.Check(c.Server.RetryCheck > 0, "DIALQ_RETRY_CHECK_INTERVAL", "must be more than 0")
	l.Check(c.NoRTPTimeout >= time.Second, "DIALQ_NO_RTP_TIMEOUT", "must be at least 1s")
	l.Check(c.MaxCallDuration >= time.Minute, "DIALQ_MAX_CALL_DURATION", "must be at least 1m")
	l.Check(c.DrainTimeout >= 0, "DIALQ_DRAIN_TIMEOUT", "must not be negative")
	l.Check(c.BridgeHeartbeat >= time.Second, "DIALQ_BRIDGE_HEARTBEAT", "must be at least 1s")
	l.Check(c.BridgeNice >= -20 && c.BridgeNice <= 0, "DIALQ_BRIDGE_NICE", "must be from -20 to 0")
	return c, l.Err()
}
