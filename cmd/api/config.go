package main

import (
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/queue"
)

// loadConfig reads the API's config and log level from the environment and
// says which variable is wrong.
func loadConfig() (app.APIConfig, string, error) {
	return readConfig(envconf.New())
}

func readConfig(l *envconf.Loader) (app.APIConfig, string, error) {
	d := queue.DefaultDialOptions()
	cacheTTL := l.Duration("DIALQ_CACHE_TTL", 5*time.Second)
	c := app.APIConfig{
		Addr:        l.String("DIALQ_API_ADDR", "127.0.0.1:58080"),
		DatabaseURL: l.Required("DATABASE_URL"),
		DBMaxConns:  l.Int("DIALQ_DB_MAX_CONNS", 20),
		Migrate:     l.Bool("DIALQ_MIGRATE", true),
		Redis: app.Redis{
			Addr:     l.String("REDIS_ADDR", "127.0.0.1:6379"),
			Password: l.String("REDIS_PASSWORD", ""),
			DB:       l.Int("REDIS_DB", 0),
		},
		Channels: app.Channels{
			Notify: l.String("DIALQ_NOTIFY_CHANNEL", ""),
			Hangup: l.String("DIALQ_HANGUP_CHANNEL", ""),
		},
		Dial: queue.DialOptions{
			Queue:     l.String("DIALQ_QUEUE", d.Queue),
			MaxRetry:  l.Int("DIALQ_DIAL_MAX_RETRY", d.MaxRetry),
			Timeout:   l.Duration("DIALQ_DIAL_TIMEOUT", d.Timeout),
			Retention: l.Duration("DIALQ_TASK_RETENTION", d.Retention),
		},
		HTTP: httpapi.Config{
			DefaultWait: l.Duration("DIALQ_WAIT_DEFAULT", 10*time.Second),
			MaxWait:     l.Duration("DIALQ_WAIT_MAX", 60*time.Second),
			CacheTTL:    cacheTTL,
		},
	}
	c.Calls.PollInterval = l.Duration("DIALQ_WAIT_POLL", time.Second)
	c.Calls.CacheTTL = cacheTTL
	admin, password := l.String("DIALQ_ADMIN_USER", ""), l.String("DIALQ_ADMIN_PASSWORD", "")
	writable := l.Bool("DIALQ_MONITORING_WRITABLE", false)
	level := l.String("DIALQ_LOG_LEVEL", "info")

	l.Check(c.HTTP.DefaultWait <= c.HTTP.MaxWait, "DIALQ_WAIT_DEFAULT", "(%s) must not exceed DIALQ_WAIT_MAX (%s)", c.HTTP.DefaultWait, c.HTTP.MaxWait)
	l.Check(c.Dial.MaxRetry >= 0, "DIALQ_DIAL_MAX_RETRY", "must be 0 or more")
	l.Check(c.Dial.Timeout >= 30*time.Second, "DIALQ_DIAL_TIMEOUT", "must be at least 30s: it has to outlast the ring time")
	l.Check(c.Calls.PollInterval > 0, "DIALQ_WAIT_POLL", "must be more than 0")
	l.Check((admin == "") == (password == ""), "DIALQ_ADMIN_USER", "and DIALQ_ADMIN_PASSWORD must be set together")
	if admin != "" {
		c.HTTP.Monitoring = &httpapi.MonitoringConfig{
			Redis: asynq.RedisClientOpt{Addr: c.Redis.Addr, Password: c.Redis.Password, DB: c.Redis.DB},
			User:  admin, Password: password, ReadOnly: !writable,
		}
	}
	return c, level, l.Err()
}
