package app

import (
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/httpapi"
)

// ReadAPIConfig reads the api's config and log level through l and says
// which variable is wrong: what cmd/api runs with, and what its -h and the
// README's table list (APIBinary).
func ReadAPIConfig(l *envconf.Loader) (APIConfig, string, error) {
	cacheTTL := l.Duration("DIALQ_CACHE_TTL", 5*time.Second)
	c := APIConfig{
		Addr:     l.String("DIALQ_API_ADDR", "127.0.0.1:58080"),
		Redis:    ReadRedis(l),
		Channels: ReadChannels(l),
		Dial:     ReadDial(l),
		HTTP: httpapi.Config{
			DefaultWait: l.Duration("DIALQ_WAIT_DEFAULT", 10*time.Second),
			MaxWait:     l.Duration("DIALQ_WAIT_MAX", 60*time.Second),
			CacheTTL:    cacheTTL,
			// An int holds 1 GiB and more on the 64-bit machines dialq runs on.
			MaxUploadBytes: int64(l.Int("DIALQ_MAX_UPLOAD_BYTES", httpapi.DefaultMaxUploadBytes)),
		},
	}
	c.DatabaseURL, c.DBMaxConns, c.Migrate = ReadDatabase(l)
	c.SecretKey = l.String("DIALQ_SECRET_KEY", "")
	// LiveKit: optional for the API. With it, the API verifies LiveKit's
	// webhooks (POST /livekit/webhook) and hangs up LiveKit SIP calls.
	c.LiveKit.URL = l.String("LIVEKIT_URL", "")
	c.LiveKit.APIKey = l.String("LIVEKIT_API_KEY", "")
	c.LiveKit.APISecret = l.String("LIVEKIT_API_SECRET", "")
	c.Calls.PollInterval = l.Duration("DIALQ_WAIT_POLL", time.Second)
	c.Calls.CacheTTL = cacheTTL
	c.Campaigns.MaxUploads = l.Int("DIALQ_MAX_UPLOADS", campaigns.DefaultMaxUploads)
	c.WebhookAllowPrivate = l.Bool("DIALQ_WEBHOOK_ALLOW_PRIVATE", false)
	c.ShutdownTimeout = l.Duration("DIALQ_API_SHUTDOWN_TIMEOUT", DefaultAPIShutdownTimeout)
	admin, password := l.String("DIALQ_ADMIN_USER", ""), l.String("DIALQ_ADMIN_PASSWORD", "")
	writable := l.Bool("DIALQ_MONITORING_WRITABLE", false)
	maskNumbers := l.Bool("DIALQ_MONITORING_MASK_NUMBERS", true)
	level := l.String("DIALQ_LOG_LEVEL", "info")

	l.Check(c.HTTP.DefaultWait <= c.HTTP.MaxWait, "DIALQ_WAIT_DEFAULT", "(%s) must not exceed DIALQ_WAIT_MAX (%s)", c.HTTP.DefaultWait, c.HTTP.MaxWait)
	l.Check(c.Dial.Timeout >= 30*time.Second, "DIALQ_DIAL_TIMEOUT", "must be at least 30s: it has to outlast the ring time")
	l.Check(c.HTTP.MaxUploadBytes >= httpapi.MaxBodyBytes, "DIALQ_MAX_UPLOAD_BYTES", "must be at least %d bytes (64 KiB)", httpapi.MaxBodyBytes)
	l.Check(c.Campaigns.MaxUploads >= 1, "DIALQ_MAX_UPLOADS", "must be at least 1")
	l.Check(c.ShutdownTimeout >= time.Second, "DIALQ_API_SHUTDOWN_TIMEOUT", "must be at least 1s")
	l.Check(c.Calls.PollInterval > 0, "DIALQ_WAIT_POLL", "must be more than 0")
	l.Check((admin == "") == (password == ""), "DIALQ_ADMIN_USER", "and DIALQ_ADMIN_PASSWORD must be set together")
	l.Check((c.LiveKit.URL == "") == (c.LiveKit.APIKey == "") && (c.LiveKit.APIKey == "") == (c.LiveKit.APISecret == ""),
		"LIVEKIT_URL", "LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be set together (or none, for an API without LiveKit webhooks and hang-ups of LiveKit SIP calls)")
	if admin != "" {
		c.HTTP.Monitoring = &httpapi.MonitoringConfig{
			Redis: asynq.RedisClientOpt{Addr: c.Redis.Addr, Password: c.Redis.Password, DB: c.Redis.DB},
			User:  admin, Password: password, ReadOnly: !writable, ShowNumbers: !maskNumbers,
		}
	}
	return c, level, l.Err()
}

// APIBinary is cmd/api's config reader, for its -h and dialqctl env-docs.
var APIBinary = envconf.Binary{Name: "api", Summary: "dialq's HTTP API: accepts outbound calls, stores and enqueues them and waits a bounded time for their outcome; serves Asynqmon at /monitoring.",
	Read: func(l *envconf.Loader) { ReadAPIConfig(l) }}
