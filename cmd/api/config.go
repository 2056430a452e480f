package main

import (
	"time"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/queue"
)

// config is everything the API reads from its environment.
type config struct {
	Addr        string // DIALQ_API_ADDR
	DatabaseURL string // DATABASE_URL
	DBMaxConns  int    // DIALQ_DB_MAX_CONNS
	Migrate     bool   // DIALQ_MIGRATE: apply migrations at start

	RedisAddr     string // REDIS_ADDR
	RedisPassword string // REDIS_PASSWORD
	RedisDB       int    // REDIS_DB
	NotifyChannel string // DIALQ_NOTIFY_CHANNEL

	Dial queue.DialOptions // DIALQ_QUEUE, DIALQ_DIAL_MAX_RETRY, DIALQ_DIAL_TIMEOUT, DIALQ_TASK_RETENTION

	DefaultWait  time.Duration // DIALQ_WAIT_DEFAULT
	MaxWait      time.Duration // DIALQ_WAIT_MAX
	PollInterval time.Duration // DIALQ_WAIT_POLL
	CacheTTL     time.Duration // DIALQ_CACHE_TTL

	AdminUser          string // DIALQ_ADMIN_USER
	AdminPassword      string // DIALQ_ADMIN_PASSWORD
	MonitoringWritable bool   // DIALQ_MONITORING_WRITABLE

	LogLevel string // DIALQ_LOG_LEVEL
}

func loadConfig() (config, error) {
	l := envconf.New()
	d := queue.DefaultDialOptions()
	c := config{
		Addr:          l.String("DIALQ_API_ADDR", "127.0.0.1:58080"),
		DatabaseURL:   l.Required("DATABASE_URL"),
		DBMaxConns:    l.Int("DIALQ_DB_MAX_CONNS", 20),
		Migrate:       l.Bool("DIALQ_MIGRATE", true),
		RedisAddr:     l.String("REDIS_ADDR", "127.0.0.1:6379"),
		RedisPassword: l.String("REDIS_PASSWORD", ""),
		RedisDB:       l.Int("REDIS_DB", 0),
		NotifyChannel: l.String("DIALQ_NOTIFY_CHANNEL", ""),
		Dial: queue.DialOptions{
			Queue:     l.String("DIALQ_QUEUE", d.Queue),
			MaxRetry:  l.Int("DIALQ_DIAL_MAX_RETRY", d.MaxRetry),
			Timeout:   l.Duration("DIALQ_DIAL_TIMEOUT", d.Timeout),
			Retention: l.Duration("DIALQ_TASK_RETENTION", d.Retention),
		},
		DefaultWait:        l.Duration("DIALQ_WAIT_DEFAULT", 10*time.Second),
		MaxWait:            l.Duration("DIALQ_WAIT_MAX", 60*time.Second),
		PollInterval:       l.Duration("DIALQ_WAIT_POLL", time.Second),
		CacheTTL:           l.Duration("DIALQ_CACHE_TTL", 5*time.Second),
		AdminUser:          l.String("DIALQ_ADMIN_USER", ""),
		AdminPassword:      l.String("DIALQ_ADMIN_PASSWORD", ""),
		MonitoringWritable: l.Bool("DIALQ_MONITORING_WRITABLE", false),
		LogLevel:           l.String("DIALQ_LOG_LEVEL", "info"),
	}
	l.Check(c.DefaultWait <= c.MaxWait, "DIALQ_WAIT_DEFAULT", "(%s) must not exceed DIALQ_WAIT_MAX (%s)", c.DefaultWait, c.MaxWait)
	l.Check(c.Dial.MaxRetry >= 0, "DIALQ_DIAL_MAX_RETRY", "must be 0 or more")
	l.Check(c.Dial.Timeout >= 30*time.Second, "DIALQ_DIAL_TIMEOUT", "must be at least 30s: it has to outlast the ring time")
	l.Check(c.PollInterval > 0, "DIALQ_WAIT_POLL", "must be more than 0")
	l.Check((c.AdminUser == "") == (c.AdminPassword == ""), "DIALQ_ADMIN_USER", "and DIALQ_ADMIN_PASSWORD must be set together")
	return c, l.Err()
}
