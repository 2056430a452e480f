package dialer_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestAsynqDoesNotCountThrottledRuns runs a real asynq server configured
// as the worker's (ServerConfig) on a task allowed one retry: two runs held
// back by their limits are rescheduled after their retry-after, neither
// counted (a second counted failure would archive it), and the third
// completes with the task's retry count still 0. (asynq archives a task on
// its last run whatever IsFailure says: the dialer's admit handles that
// run itself.)
func TestAsynqDoesNotCountThrottledRuns(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	queue := testenv.Name("q_")
	o := dialer.DefaultServerOptions(queue)
	o.Concurrency, o.RetryCheck, o.TaskCheckInterval, o.ShutdownTimeout = 2, 100*time.Millisecond, 10*time.Millisecond, time.Second
	srv := asynq.NewServerFromRedisClient(rdb, dialer.ServerConfig(o, testenv.Logger(t)))
	var runs atomic.Int32
	done := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:throttled", func(ctx context.Context, _ *asynq.Task) error {
		if runs.Add(1) <= 2 {
			return &dialer.ThrottledError{Limit: dialq.Limit{Key: "trunk:ST_a", MaxConcurrent: 1}, Full: true,
				RetryAfter: 10 * time.Millisecond}
		}
		close(done)
		return nil
	})
	require.NoError(t, srv.Start(mux))
	insp := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() {
		srv.Shutdown()
		_ = insp.DeleteQueue(queue, true)
	})

	client := asynq.NewClientFromRedisClient(rdb)
	info, err := client.Enqueue(asynq.NewTask("test:throttled", nil), asynq.Queue(queue), asynq.MaxRetry(1),
		asynq.Retention(time.Minute))
	require.NoError(t, err)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the task ran %d times and never completed", runs.Load())
	}
	require.Eventually(t, func() bool {
		info, err = insp.GetTaskInfo(queue, info.ID)
		return err == nil && info.State == asynq.TaskStateCompleted
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, info.Retried, "throttled runs are not failures")
	require.EqualValues(t, 3, runs.Load())
}
