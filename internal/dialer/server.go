package dialer

import (
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/logging"
)

// ServerOptions are how a worker's asynq server takes call:dial tasks.
// cmd/worker reads them from its environment; the benchmarks run workers
// with DefaultServerOptions.
type ServerOptions struct {
	Queue       string // DIALQ_QUEUE
	Concurrency int    // DIALQ_WORKER_CONCURRENCY
	// TaskCheckInterval is how long an idle worker waits between polls of
	// the queue (DIALQ_TASK_CHECK_INTERVAL): its pickup latency, against
	// Redis commands and CPU while idle (docs/benchmarks.md).
	TaskCheckInterval time.Duration
	// RetryBase is the first retry's delay, doubled each time
	// (DIALQ_RETRY_BASE); RetryCheck how often due retries are moved to the
	// queue (DIALQ_RETRY_CHECK_INTERVAL).
	RetryBase  time.Duration
	RetryCheck time.Duration
	// ShutdownTimeout is how long a stopping worker lets dials in flight
	// finish (DIALQ_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
}

// DefaultServerOptions are the worker's defaults, on queue; the shutdown
// timeout's depends on the ring time, and is left to the caller.
func DefaultServerOptions(queue string) ServerOptions {
	return ServerOptions{
		Queue:             queue,
		Concurrency:       200,
		TaskCheckInterval: 2 * time.Millisecond,
		RetryBase:         time.Second,
		RetryCheck:        time.Second,
	}
}

// ServerConfig is the asynq configuration of a worker with o, logging
// asynq's warnings and errors to log.
func ServerConfig(o ServerOptions, log *slog.Logger) asynq.Config {
	return asynq.Config{
		Concurrency:       o.Concurrency,
		Queues:            map[string]int{o.Queue: 1},
		TaskCheckInterval: o.TaskCheckInterval,
		// asynq checks for due retries every 5 s by default: too slow for a
		// LiveKit blip a waiting caller should not notice.
		DelayedTaskCheckInterval: o.RetryCheck,
		ShutdownTimeout:          o.ShutdownTimeout,
		RetryDelayFunc:           RetryDelay(o.RetryBase),
		IsFailure:                IsFailure,
		Logger:                   logging.Asynq(log),
		LogLevel:                 asynq.WarnLevel,
	}
}

// RetryDelay returns asynq's retry delay: for a call its limits hold back
// (*ThrottledError), its RetryAfter and a little jitter, so that calls
// waiting for a slot do not all ask at once; else base doubled per
// failure, capped at a minute, so a LiveKit blip is retried within seconds.
func RetryDelay(base time.Duration) asynq.RetryDelayFunc {
	return func(n int, err error, _ *asynq.Task) time.Duration {
		if t, ok := errors.AsType[*ThrottledError](err); ok {
			return t.RetryAfter + throttleJitter(t.RetryAfter)
		}
		d := time.Duration(float64(base) * math.Pow(2, float64(n)))
		return min(d, time.Minute)
	}
}

// throttleJitter is up to a tenth of d, at most 200 ms.
func throttleJitter(d time.Duration) time.Duration {
	return rand.N(min(d/10, 200*time.Millisecond) + 1)
}

// IsFailure is asynq's Config.IsFailure: whether an error counts as a
// failure of the task (towards its MaxRetry, and in the queue's failed
// count). A call its limits hold back (*ThrottledError) is not a failure:
// it waits as long as its turn takes and keeps its retries for the
// failures.
func IsFailure(err error) bool {
	_, throttled := errors.AsType[*ThrottledError](err)
	return err != nil && !throttled
}
