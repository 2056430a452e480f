package dialer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestSweepReenqueuesLostCalls: a call stored as queued whose task never
// reached Redis is put on the queue once; a call whose task exists is left
// as it is.
func TestSweepReenqueuesLostCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := testenv.Postgres(t)
	rdb := testenv.Redis(t)
	opts := queue.DefaultDialOptions()
	opts.Queue = testenv.Name("q_")
	enq := queue.NewEnqueuer(asynq.NewClientFromRedisClient(rdb), opts)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = insp.DeleteQueue(opts.Queue, true) })

	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	now := time.Now()
	newCall := func(age time.Duration) *dialq.Call {
		c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_x",
			ToNumber: "+15550200000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: now.Add(-age)}
		_, err := db.CreateCall(ctx, c)
		require.NoError(t, err)
		return c
	}
	lost := newCall(5 * time.Minute)   // old, never enqueued
	queued := newCall(5 * time.Minute) // old, its task is pending
	fresh := newCall(time.Second)      // too young to judge
	require.NoError(t, enq.EnqueueDial(ctx, queued))

	s := &dialer.Sweeper{Store: db, Enqueue: enq, Log: testenv.Logger(t), Now: time.Now, Age: time.Minute}
	n, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	pending, err := insp.ListPendingTasks(opts.Queue)
	require.NoError(t, err)
	var ids []string
	for _, p := range pending {
		ids = append(ids, p.ID)
	}
	require.ElementsMatch(t, []string{lost.ID.String(), queued.ID.String()}, ids)
	_, err = insp.GetTaskInfo(opts.Queue, fresh.ID.String())
	require.True(t, errors.Is(err, asynq.ErrTaskNotFound), "fresh call left alone: %v", err)

	// A second sweep changes nothing: the TaskID keeps each call queued once.
	_, err = s.Sweep(ctx)
	require.NoError(t, err)
	pending, err = insp.ListPendingTasks(opts.Queue)
	require.NoError(t, err)
	require.Len(t, pending, 2)
}
