package app

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Redis says where Redis is.
type Redis struct {
	Addr     string // REDIS_ADDR
	Password string // REDIS_PASSWORD
	DB       int    // REDIS_DB
}

// Channels names the Redis pub/sub channels the processes talk over;
// empty names are the defaults. Tests give each stack its own.
type Channels struct {
	Notify string // DIALQ_NOTIFY_CHANNEL: call changes, worker → API
	Hangup string // DIALQ_HANGUP_CHANNEL: hang-up requests, API → workers
}

// connect opens a client and checks Redis answers.
func (r Redis) connect(ctx context.Context) (*redis.Client, error) {
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, DB: r.DB})
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis at %s (REDIS_ADDR): %w", r.Addr, err)
	}
	return rdb, nil
}
