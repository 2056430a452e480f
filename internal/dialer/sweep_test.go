package dialer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/testkit/testclock"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestSweepReenqueuesLostCalls: a call stored as queued whose task never
// reached Redis is put on the queue once; a call whose task exists is left
// as it is; a young one is left until the clock has passed Age.
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
	clock := testclock.New(now)
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

	s := dialer.NewSweeper(dialer.SweeperConfig{Store: db, Enqueue: enq, Log: testenv.Logger(t), Now: clock.Now, Age: time.Minute})
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

	// A minute on, the fresh call has waited long enough too.
	clock.Advance(time.Minute)
	_, err = s.Sweep(ctx)
	require.NoError(t, err)
	_, err = insp.GetTaskInfo(opts.Queue, fresh.ID.String())
	require.NoError(t, err, "the fresh call, a minute on")
}

// TestSweeperStartAndShutdown: once started, the sweeper sweeps every
// Interval by itself; Shutdown stops it.
func TestSweeperStartAndShutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := testenv.Postgres(t)
	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	lost := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_x",
		ToNumber: "+15550200000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: time.Now().Add(-time.Hour)}
	_, err := db.CreateCall(ctx, lost)
	require.NoError(t, err)

	rdb := testenv.Redis(t)
	opts := queue.DefaultDialOptions()
	opts.Queue = testenv.Name("q_")
	insp := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = insp.DeleteQueue(opts.Queue, true) })
	enq := &signalingEnqueuer{SweepEnqueuer: queue.NewEnqueuer(asynq.NewClientFromRedisClient(rdb), opts),
		enqueued: make(chan uuid.UUID, 1)}
	s := dialer.NewSweeper(dialer.SweeperConfig{Store: db, Enqueue: enq, Log: testenv.Logger(t),
		// A pass may take one Interval: 10 ms was too short for a pass on a
		// loaded CI host (every pass was cut; CI failed after 10 s).
		Age: time.Minute, Interval: 250 * time.Millisecond})
	s.Start()
	select {
	case id := <-enq.enqueued:
		require.Equal(t, lost.ID, id)
	case <-time.After(10 * time.Second):
		t.Fatal("the started sweeper never re-enqueued the lost call")
	}
	s.Shutdown()
	_, err = insp.GetTaskInfo(opts.Queue, lost.ID.String())
	require.NoError(t, err, "the lost call is on the queue")
}

// signalingEnqueuer is the real queue, telling the test the id of each call
// it enqueued (the first, if the test is slow to take them).
type signalingEnqueuer struct {
	dialer.SweepEnqueuer
	enqueued chan uuid.UUID
}

func (e *signalingEnqueuer) EnqueueDial(ctx context.Context, c *dialq.Call) error {
	err := e.SweepEnqueuer.EnqueueDial(ctx, c)
	if err == nil {
		select {
		case e.enqueued <- c.ID:
		default:
		}
	}
	return err
}

// TestSweepFailsAnUnreadableCallAndGoesOn: a queued row the code cannot
// decode (metadata 1e400, stored before such numbers were refused) is
// failed with internal_error and logged with its call_id; the sweep goes on
// to the lost call after it, on this pass and every later one.
func TestSweepFailsAnUnreadableCallAndGoesOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dsn := testenv.Postgres(t)
	rdb := testenv.Redis(t)
	opts := queue.DefaultDialOptions()
	opts.Queue = testenv.Name("q_")
	enq := queue.NewEnqueuer(asynq.NewClientFromRedisClient(rdb), opts)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = insp.DeleteQueue(opts.Queue, true) })

	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	now := time.Now()
	bad := testenv.SQL(t, dsn, `INSERT INTO calls (id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata, status, created_at)
		VALUES (gen_random_uuid(), $1, gen_random_uuid(), 'ST_x', '+15550200000', 'twilio', '{"zz": 1e400}', 'queued', $2)
		RETURNING id::text`, tenant, now.Add(-10*time.Minute))
	lost := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_x",
		ToNumber: "+15550200000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: now.Add(-5 * time.Minute)}
	_, err := db.CreateCall(ctx, lost)
	require.NoError(t, err)

	var logs bytes.Buffer
	s := dialer.NewSweeper(dialer.SweeperConfig{Store: db, Enqueue: enq, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Now: time.Now, Age: time.Minute})
	n, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	pending, err := insp.ListPendingTasks(opts.Queue)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, lost.ID.String(), pending[0].ID, "the lost call after the bad row is enqueued")

	require.Equal(t, "failed internal_error", testenv.SQL(t, dsn, `SELECT status || ' ' || failure_reason FROM calls WHERE id = $1`, bad))
	require.Contains(t, testenv.SQL(t, dsn, `SELECT last_error FROM calls WHERE id = $1`, bad), "cannot be read")
	var line map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &line), logs.String())
	require.Equal(t, bad, line["call_id"])
	require.Contains(t, line["err"], "cannot unmarshal number")

	// The failed row is no longer queued: the next pass sees only the lost call.
	n, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
