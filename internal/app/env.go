package app

import (
	"time"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/limiter"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/queue"
)

// The settings both processes (and dialqctl) read alike, one reader each so
// a variable means the same everywhere.

// ReadRedis reads REDIS_ADDR, REDIS_PASSWORD and REDIS_DB.
func ReadRedis(l *envconf.Loader) Redis {
	return Redis{
		Addr:     l.String("REDIS_ADDR", "127.0.0.1:6379"),
		Password: l.String("REDIS_PASSWORD", ""),
		DB:       l.Int("REDIS_DB", 0),
	}
}

// ReadChannels reads DIALQ_NOTIFY_CHANNEL and DIALQ_HANGUP_CHANNEL.
func ReadChannels(l *envconf.Loader) Channels {
	return Channels{
		Notify: l.String("DIALQ_NOTIFY_CHANNEL", notify.DefaultChannel),
		Hangup: l.String("DIALQ_HANGUP_CHANNEL", notify.DefaultHangupChannel),
	}
}

// ReadDial reads the dial task's options: DIALQ_QUEUE, DIALQ_DIAL_MAX_RETRY,
// DIALQ_DIAL_TIMEOUT, DIALQ_TASK_RETENTION and DIALQ_CAMPAIGN_QUEUE.
func ReadDial(l *envconf.Loader) queue.DialOptions {
	d := queue.DefaultDialOptions()
	o := queue.DialOptions{
		Queue:     l.String("DIALQ_QUEUE", d.Queue),
		MaxRetry:  l.Int("DIALQ_DIAL_MAX_RETRY", d.MaxRetry),
		Timeout:   l.Duration("DIALQ_DIAL_TIMEOUT", d.Timeout),
		Retention: l.Duration("DIALQ_TASK_RETENTION", d.Retention),
		// Campaign calls: DialOptions.CampaignQueueName's default.
		CampaignQueue: l.String("DIALQ_CAMPAIGN_QUEUE", ""),
	}
	l.Check(o.MaxRetry >= 0, "DIALQ_DIAL_MAX_RETRY", "must be 0 or more")
	return o
}

// ReadDatabase reads DATABASE_URL, DIALQ_DB_MAX_CONNS and DIALQ_MIGRATE.
func ReadDatabase(l *envconf.Loader) (dsn string, maxConns int, migrate bool) {
	return l.Required("DATABASE_URL"), l.Int("DIALQ_DB_MAX_CONNS", 20), l.Bool("DIALQ_MIGRATE", true)
}

// ReadLimits reads the call limiter's settings: DIALQ_LIMIT_PREFIX and
// DIALQ_LIMIT_SWEEP_INTERVAL.
func ReadLimits(l *envconf.Loader) LimitsConfig {
	c := LimitsConfig{
		Prefix:        l.String("DIALQ_LIMIT_PREFIX", limiter.DefaultPrefix),
		SweepInterval: l.Duration("DIALQ_LIMIT_SWEEP_INTERVAL", 30*time.Second),
	}
	l.Check(c.SweepInterval >= time.Second, "DIALQ_LIMIT_SWEEP_INTERVAL", "must be at least 1s")
	return c
}
