package webhooks_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/testkit/testenv"
	"github.com/dialq/dialq/internal/webhooks"
)

// rig is the delivery path as a worker runs it, on a schema and a queue of
// the test's own: the deliverer on an asynq server, the dispatcher
// listening to Postgres, and the webhooks service.
type rig struct {
	t       *testing.T
	db      *postgres.DB
	sql     *sql.DB
	svc     *webhooks.Service
	deliver *webhooks.Deliverer
	enqueue *queue.WebhookEnqueuer
	tenant  uuid.UUID
}

type rigConfig struct {
	Backoff []time.Duration
	// Guard is the delivery side's; the service always allows loopback,
	// the test's receivers being on 127.0.0.1.
	Guard webhooks.Guard
	// NoDispatcher leaves the dispatcher out: a test of the sweeper.
	NoDispatcher bool
}

func newRig(t *testing.T, cfg rigConfig) *rig {
	t.Helper()
	ctx := context.Background()
	db, dsn := testenv.Postgres(t)
	raw, err := sql.Open("postgres", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	rdb := testenv.Redis(t)
	q := testenv.Name("wq_")
	insp := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = insp.DeleteQueue(q, true) })
	log := testenv.Logger(t)

	r := &rig{t: t, db: db, sql: raw, tenant: uuid.New()}
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: r.tenant, Name: "acme"}))
	r.svc = webhooks.NewService(db, webhooks.Guard{AllowPrivate: true})
	r.enqueue = queue.NewWebhookEnqueuer(asynq.NewClientFromRedisClient(rdb), queue.WebhookOptions{Queue: q})
	r.deliver = webhooks.NewDeliverer(webhooks.DelivererConfig{Store: db, Enqueue: r.enqueue,
		Client: cfg.Guard.Client(2 * time.Second), Log: log, Backoff: cfg.Backoff})

	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: 8, Queues: map[string]int{q: 1}, TaskCheckInterval: 2 * time.Millisecond,
		DelayedTaskCheckInterval: 20 * time.Millisecond, LogLevel: asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	r.deliver.Register(mux)
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)

	if !cfg.NoDispatcher {
		ch, err := db.WebhookChannel(ctx)
		require.NoError(t, err)
		d := webhooks.NewDispatcher(webhooks.DispatcherConfig{DSN: dsn, Channel: ch, Enqueue: r.enqueue, Log: log})
		d.Start()
		t.Cleanup(d.Shutdown)
		<-d.Listening()
	}
	return r
}

// newCall stores a queued call of the rig's tenant.
func (r *rig) newCall() uuid.UUID {
	r.t.Helper()
	c := &dialq.Call{ID: uuid.New(), TenantID: r.tenant, AssistantID: uuid.New(), TrunkID: "ST_t",
		ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued,
		Metadata: map[string]any{"name": "Jo"}, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	_, err := r.db.CreateCall(context.Background(), c)
	require.NoError(r.t, err)
	return c.ID
}

// move changes the call's status as the call state machine does: the row
// and one timeline event with the new status, in one statement.
func (r *rig) move(id uuid.UUID, status dialq.CallStatus) {
	r.t.Helper()
	_, err := r.sql.Exec(`WITH u AS (UPDATE calls SET status = $2, updated_at = now(),
			answered_at = CASE WHEN $2 = 'answered' THEN now() ELSE answered_at END,
			ended_at = CASE WHEN $2 IN ('completed', 'failed') THEN now() ELSE ended_at END
			WHERE id = $1 RETURNING id)
		INSERT INTO call_events (call_id, kind, detail, status) SELECT id, $2, '', $2 FROM u`, id, string(status))
	require.NoError(r.t, err)
}

// endpoint makes an endpoint of the rig's tenant at url.
func (r *rig) endpoint(url string, events ...string) *dialq.WebhookEndpoint {
	r.t.Helper()
	if len(events) == 0 {
		events = nil
	}
	e, err := r.svc.CreateEndpoint(context.Background(), r.tenant, url, events)
	require.NoError(r.t, err)
	return e
}

// deliveries returns the deliveries of a call.
func (r *rig) deliveries(call uuid.UUID) []dialq.WebhookDelivery {
	r.t.Helper()
	list, err := r.svc.CallDeliveries(context.Background(), r.tenant, call)
	require.NoError(r.t, err)
	return list
}

// waitDeliveries waits until every delivery of call is over and returns them.
func (r *rig) waitDeliveries(call uuid.UUID, n int) []dialq.WebhookDelivery {
	r.t.Helper()
	var list []dialq.WebhookDelivery
	require.Eventually(r.t, func() bool {
		list = r.deliveries(call)
		if len(list) != n {
			return false
		}
		for _, d := range list {
			if d.Status == dialq.DeliveryPending {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond)
	return list
}

// waitFirstAttempt waits until the call's one delivery has its first
// attempt recorded.
func (r *rig) waitFirstAttempt(call uuid.UUID) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		list := r.deliveries(call)
		return len(list) == 1 && len(list[0].Log) == 1
	}, 5*time.Second, 10*time.Millisecond)
}

// hit is one request a receiver got.
type hit struct {
	At     time.Time
	Header http.Header
	Body   []byte
	Event  event
	Answer int
}

// event is the body of a webhook.
type event struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// receiver is a webhook endpoint on 127.0.0.1 that answers each request
// with answer(n), n counting from 0, and keeps what it got.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
	got  chan hit
}

func newReceiver(t *testing.T, answer func(n int, h hit) int) *receiver {
	rc := &receiver{got: make(chan hit, 1000)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hit{At: time.Now(), Header: req.Header.Clone(), Body: body}
		_ = json.Unmarshal(body, &h.Event)
		rc.mu.Lock()
		h.Answer = answer(len(rc.hits), h)
		rc.hits = append(rc.hits, h)
		rc.mu.Unlock()
		rc.got <- h
		w.WriteHeader(h.Answer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) all() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

func ok(int, hit) int { return http.StatusNoContent }
