package campaigns_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/testkit/testclock"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// queued records the dial tasks the calls service enqueues: the scheduler
// tests follow the calls in Postgres, no worker dials them.
type queued struct {
	mu  sync.Mutex
	ids []uuid.UUID
}

func (q *queued) EnqueueDial(_ context.Context, c *dialq.Call) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ids = append(q.ids, c.ID)
	return nil
}

// rig is one test's campaigns service over its own schema, with a clock the
// test moves.
type rig struct {
	t         *testing.T
	db        *postgres.DB
	dsn       string
	clock     *testclock.Clock
	svc       *campaigns.Service
	sched     *campaigns.Scheduler
	queue     *queued
	tenant    uuid.UUID
	assistant uuid.UUID
	trunk     string
	log       *slog.Logger
}

func newRig(t *testing.T, start time.Time) *rig {
	t.Helper()
	clock := testclock.New(start)
	db, dsn := testenv.Postgres(t, postgres.WithClock(clock.Now))
	r := &rig{t: t, db: db, dsn: dsn, clock: clock, tenant: uuid.New(), assistant: uuid.New(), trunk: "ST_" + testenv.Name(""),
		log: testenv.Logger(t), queue: &queued{}}
	ctx := context.Background()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: r.tenant, Name: "campaigns"}))
	require.NoError(t, db.SaveAssistant(ctx, &dialq.Assistant{ID: r.assistant, TenantID: r.tenant, Name: "a",
		Prompt: "Hello {{name}}.", StartInstruction: "Hi {{name}}.", AgentName: "agent", DialWithoutAgent: true}))
	require.NoError(t, db.SaveTrunk(ctx, &dialq.Trunk{ID: r.trunk, TenantID: r.tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: r.trunk}))
	r.svc, r.sched = r.service(db)
	return r
}

// service builds a campaigns service and scheduler over db, as a worker
// does: another "worker" of the same stack when db is another pool.
func (r *rig) service(db *postgres.DB) (*campaigns.Service, *campaigns.Scheduler) {
	return r.serviceAt(db, 0)
}

// serviceAt is service on a machine whose clock is skew off the rig's.
func (r *rig) serviceAt(db *postgres.DB, skew time.Duration) (*campaigns.Service, *campaigns.Scheduler) {
	now := func() time.Time { return r.clock.Now().Add(skew) }
	cs := calls.New(db, r.queue, nil, nil, r.log, calls.Config{})
	cs.Now = now
	svc := campaigns.New(db, cs, r.log, campaigns.Config{})
	svc.Now = now
	return svc, campaigns.NewScheduler(svc, campaigns.SchedulerConfig{Now: now, Log: r.log, ReportGrace: 5 * time.Second})
}

// secondWorker opens another pool on the same schema, with its own
// service and scheduler.
func (r *rig) secondWorker() (*campaigns.Service, *campaigns.Scheduler) {
	return r.secondWorkerAt(0)
}

func (r *rig) secondWorkerAt(skew time.Duration) (*campaigns.Service, *campaigns.Scheduler) {
	db, err := postgres.Open(context.Background(), r.dsn, 10, postgres.WithClock(func() time.Time { return r.clock.Now().Add(skew) }))
	require.NoError(r.t, err)
	r.t.Cleanup(func() { db.Close() })
	return r.serviceAt(db, skew)
}

// contact is one contact to add: number, zone and metadata.
type contact struct {
	number string
	zone   string
}

// campaign stores a running campaign of r's tenant with settings (their
// defaults filled) and contacts, pending from now.
func (r *rig) campaign(st dialq.CampaignSettings, contacts ...contact) *dialq.Campaign {
	r.t.Helper()
	return r.campaignOf(r.tenant, st, contacts...)
}

func (r *rig) campaignOf(tenant uuid.UUID, st dialq.CampaignSettings, contacts ...contact) *dialq.Campaign {
	r.t.Helper()
	ctx := context.Background()
	now := r.clock.Now()
	c := &dialq.Campaign{ID: uuid.New(), TenantID: tenant, Name: "test", AssistantID: r.assistant, TrunkID: r.trunk,
		Service: dialq.ServiceTwilio, Settings: st.WithDefaults(), Status: dialq.CampaignRunning, CreatedAt: now, UpdatedAt: now}
	if st.StartAt != nil {
		c.Status = dialq.CampaignScheduled
	}
	list := make([]dialq.Contact, len(contacts))
	for i, ct := range contacts {
		zone := ct.zone
		if zone == "" {
			zone = "UTC"
		}
		list[i] = dialq.Contact{CampaignID: c.ID, Line: int64(i + 2), ToNumber: ct.number, Timezone: zone,
			Metadata: map[string]any{"name": fmt.Sprintf("Contact %d", i+2)}, NotBefore: now}
		if st.StartAt != nil {
			list[i].NotBefore = *st.StartAt
		}
	}
	require.NoError(r.t, r.db.CreateCampaign(ctx, c, list...))
	return c
}

// numbers returns n distinct E.164 numbers.
func numbers(n int) []contact {
	out := make([]contact, n)
	for i := range out {
		out[i] = contact{number: fmt.Sprintf("+1555020%04d", i)}
	}
	return out
}

// pass runs one scheduler pass and requires it to succeed.
func (r *rig) pass(s *campaigns.Scheduler) campaigns.PassResult {
	r.t.Helper()
	res, err := s.Pass(context.Background())
	require.NoError(r.t, err)
	return res
}

func (r *rig) contact(id uuid.UUID, line int64) *dialq.Contact {
	r.t.Helper()
	ct, err := r.db.FindContact(context.Background(), id, line)
	require.NoError(r.t, err)
	return ct
}

func (r *rig) get(id uuid.UUID) *dialq.Campaign {
	r.t.Helper()
	c, err := r.db.FindCampaign(context.Background(), r.tenant, id)
	require.NoError(r.t, err)
	return c
}

// calls lists every call of campaign id, oldest first.
func (r *rig) calls(id uuid.UUID) []*dialq.Call {
	r.t.Helper()
	var out []*dialq.Call
	f := dialq.CallFilter{CampaignID: id, Limit: dialq.MaxCallPage}
	require.NoError(r.t, f.Validate())
	list, err := r.db.ListCalls(context.Background(), r.tenant, f)
	require.NoError(r.t, err)
	for i := len(list) - 1; i >= 0; i-- {
		out = append(out, list[i])
	}
	return out
}

// end ends call id as a phone would: dialed, then f (busy, no answer, ...),
// or answered and hung up when f is nil.
func (r *rig) end(id uuid.UUID, f *dialq.Failure) {
	r.t.Helper()
	ctx := context.Background()
	now := r.clock.Now()
	require.NoError(r.t, r.db.MarkDialing(ctx, id, "phone", now))
	if f != nil {
		ok, err := r.db.RecordFailed(ctx, id, *f, now)
		require.NoError(r.t, err)
		require.True(r.t, ok)
		return
	}
	ok, err := r.db.RecordAnswered(ctx, id, dialq.Participant{SID: "PA_x", Identity: "phone"}, now)
	require.NoError(r.t, err)
	require.True(r.t, ok)
	ok, err = r.db.RecordEnded(ctx, id, dialq.Completed(dialq.EndedByPhone, "phone hung up"), now)
	require.NoError(r.t, err)
	require.True(r.t, ok)
}

var (
	busy     = &dialq.Failure{Reason: dialq.ReasonBusy, SIPCode: 486, SIPStatus: "Busy Here", Message: "busy"}
	noAnswer = &dialq.Failure{Reason: dialq.ReasonNoAnswer, SIPCode: 480, SIPStatus: "Temporarily Unavailable", Message: "no answer"}
	failed   = &dialq.Failure{Reason: dialq.ReasonCarrier, SIPCode: 503, SIPStatus: "Service Unavailable", Message: "carrier"}
)
