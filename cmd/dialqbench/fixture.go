package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
)

// env is the local stack, as deploy/stack.sh writes it to stack.env.
type env struct {
	DatabaseURL      string
	RedisAddr        string
	LiveKitURL       string
	LiveKitAPIKey    string
	LiveKitAPISecret string
	StateDir         string
}

// fixture is one benchmark's tenant: an API key, an assistant and a Twilio
// trunk, as `make run` seeds them, in a schema of its own when stored.
type fixture struct {
	Tenant    uuid.UUID
	Key       string
	Assistant *dialq.Assistant
	Trunk     *dialq.Trunk // Twilio, through a LiveKit outbound trunk

	admin  *sql.DB
	Schema string
	DSN    string       // with the schema's search_path
	DB     *postgres.DB // the store, as dialqctl opens it to seed
}

// benchName returns a short unique name with prefix.
func benchName(prefix string) string {
	return prefix + strings.ToLower(rand.Text()[:10])
}

// newTenant is a fixture that is not stored. lkTrunk is the LiveKit trunk
// the Twilio trunk dials through; a made-up one will do when nothing is
// dialed.
func newTenant(lkTrunk string) *fixture {
	if lkTrunk == "" {
		lkTrunk = benchName("ST_bench_")
	}
	f := &fixture{Tenant: uuid.New()}
	f.Assistant = &dialq.Assistant{ID: uuid.New(), TenantID: f.Tenant, Name: "bench",
		Prompt:           "Hello {{name}}, you're calling from {{company}}.",
		StartInstruction: "Hi {{name}}, this is {{agent_name|Sarah}} speaking.",
		AgentName:        benchName("bench-agent-"),
		// No agent runs under this name: the bench measures accepting and
		// dialing calls, and the bridge's own bench agents join its rooms.
		DialWithoutAgent: true}
	f.Trunk = &dialq.Trunk{ID: lkTrunk, TenantID: f.Tenant, Name: "bench", Provider: dialq.ServiceTwilio, LiveKitTrunkID: lkTrunk}
	return f
}

// newFixture stores a newTenant in a fresh schema, migrated, with an API
// key.
func newFixture(ctx context.Context, e env, lkTrunk string) (*fixture, error) {
	f := newTenant(lkTrunk)
	admin, err := sql.Open("postgres", e.DatabaseURL)
	if err != nil {
		return nil, err
	}
	f.admin, f.Schema = admin, benchName("bench_")
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+f.Schema); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create schema (is the stack up?): %w", err)
	}
	if err := f.seed(ctx, e); err != nil {
		f.close()
		return nil, fmt.Errorf("seed bench tenant: %w", err)
	}
	return f, nil
}

func (f *fixture) seed(ctx context.Context, e env) error {
	u, err := url.Parse(e.DatabaseURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("search_path", f.Schema)
	u.RawQuery = q.Encode()
	f.DSN = u.String()
	if err := postgres.Migrate(ctx, f.DSN); err != nil {
		return err
	}
	if f.DB, err = postgres.Open(ctx, f.DSN, 4); err != nil {
		return err
	}
	k, key := dialq.NewAPIKey(f.Tenant)
	f.Key = key
	if err := f.DB.SaveTenant(ctx, &dialq.Tenant{ID: f.Tenant, Name: "bench"}); err != nil {
		return err
	}
	if err := f.DB.CreateAPIKey(ctx, k, "bench"); err != nil {
		return err
	}
	if err := f.DB.SaveAssistant(ctx, f.Assistant); err != nil {
		return err
	}
	return f.DB.SaveTrunk(ctx, f.Trunk)
}

// request is a call to toNumber through trunk for the fixture's tenant.
func (f *fixture) request(toNumber string, trunk *dialq.Trunk) *dialq.OutboundRequest {
	return &dialq.OutboundRequest{AssistantID: f.Assistant.ID.String(), TrunkID: trunk.ID, ToNumber: toNumber,
		CallService: string(trunk.Provider), Metadata: map[string]any{"name": "John Doe", "company": "Acme Corp"}}
}

// body is the JSON of POST /call/outbound for a call to toNumber through
// the fixture's Twilio trunk.
func (f *fixture) body(toNumber string) []byte {
	b, _ := json.Marshal(f.request(toNumber, f.Trunk))
	return b
}

// rowCount counts the calls stored in the fixture's schema.
func (f *fixture) rowCount(ctx context.Context) int {
	var n int
	_ = f.admin.QueryRowContext(ctx, "SELECT count(*) FROM "+f.Schema+".calls").Scan(&n)
	return n
}

// waitCalls waits until cond holds on the count in each status of the
// fixture's calls made since t, or for timeout, and returns the counts and a
// failed call's reason.
func (f *fixture) waitCalls(ctx context.Context, t time.Time, timeout time.Duration, cond func(map[dialq.CallStatus]int) bool) (map[dialq.CallStatus]int, string) {
	deadline := time.Now().Add(timeout)
	for {
		n, failure := map[dialq.CallStatus]int{}, ""
		rows, err := f.admin.QueryContext(ctx, "SELECT status, count(*), max(failure_reason || ': ' || last_error) FROM "+f.Schema+
			".calls WHERE created_at >= $1 GROUP BY status", t)
		if err != nil {
			logf("count calls: %v", err)
			return n, ""
		}
		for rows.Next() {
			var s dialq.CallStatus
			var k int
			var msg string
			if rows.Scan(&s, &k, &msg) == nil {
				n[s] = k
				if s.Terminal() && s != dialq.StatusCompleted {
					failure = msg
				}
			}
		}
		rows.Close()
		if cond(n) || time.Now().After(deadline) || sleep(ctx, 250*time.Millisecond) != nil {
			return n, failure
		}
	}
}

// waitDeliveries waits, up to timeout, until none of the fixture's webhook
// deliveries is pending.
func (f *fixture) waitDeliveries(ctx context.Context, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		var n int
		err := f.admin.QueryRowContext(ctx, "SELECT count(*) FROM "+f.Schema+".webhook_deliveries WHERE status = 'pending'").Scan(&n)
		if err != nil || n == 0 || sleep(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}

// close drops the schema.
func (f *fixture) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if f.DB != nil {
		f.DB.Close()
	}
	if _, err := f.admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+f.Schema+" CASCADE"); err != nil {
		logf("drop schema %s: %v", f.Schema, err)
	}
	f.admin.Close()
}

// deleteQueues removes bench queues and every task in them from Redis,
// the completed ones too, which asynq's DeleteQueue leaves behind.
func deleteQueues(rdb redis.UniversalClient, queues ...string) {
	ctx := context.Background()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	for _, q := range queues {
		if err := insp.DeleteQueue(q, true); err != nil && !strings.Contains(err.Error(), "not found") {
			logf("delete queue %s: %v", q, err)
		}
		keys := rdb.Scan(ctx, 0, "asynq:{"+q+"}*", 1000).Iterator()
		for keys.Next(ctx) {
			rdb.Del(ctx, keys.Val())
		}
	}
}
