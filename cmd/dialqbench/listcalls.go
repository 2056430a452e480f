package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
)

// targetListP50 is the page time GET /calls must keep over a million calls.
const targetListP50 = 50 * time.Millisecond

// listOptions configure the GET /calls benchmark.
type listOptions struct {
	Calls    int `json:"calls"`    // calls stored, over every tenant
	Tenants  int `json:"tenants"`  // the bench tenant holds 40% of them, the others share the rest
	Requests int `json:"requests"` // measured requests per case
}

// listResult is the GET /calls benchmark's outcome.
type listResult struct {
	Options listOptions   `json:"options"`
	Fill    time.Duration `json:"fill"`    // the INSERT … SELECT
	Indexes time.Duration `json:"indexes"` // rebuilding calls' indexes after it
	Analyze time.Duration `json:"analyze"`
	// TenantCalls is how many calls the bench tenant, the one listed, has.
	TenantCalls int        `json:"tenant_calls"`
	Cases       []listCase `json:"cases"`
}

// listCase is one kind of page, timed over Requests requests.
type listCase struct {
	Name  string        `json:"name"`
	Query string        `json:"query"`
	Rows  int           `json:"rows"` // calls on the page
	P50   time.Duration `json:"p50"`
	P95   time.Duration `json:"p95"`
	Max   time.Duration `json:"max"`
	// Plan is EXPLAIN (ANALYZE, BUFFERS) of the statement the page runs.
	Plan string `json:"plan"`
}

// runList is the GET /calls benchmark: a fresh schema filled with
// o.Calls calls over o.Tenants tenants, then pages of one tenant timed
// through dialq's API (a child process, as cmd/api runs it) for each
// filter. It fails if a case's p50 is over targetListP50.
func runList(ctx context.Context, e env, o listOptions, logDir string) (*listResult, error) {
	f, err := newFixture(ctx, e, "")
	if err != nil {
		return nil, err
	}
	defer f.close()
	res := &listResult{Options: o}
	now := time.Now().UTC()
	if err := fillCalls(ctx, f, o, now, res); err != nil {
		return nil, err
	}
	logf("list: %d calls stored in %s, indexes rebuilt in %s, analyzed in %s (tenant listed: %d calls)",
		o.Calls, res.Fill.Round(time.Millisecond), res.Indexes.Round(time.Millisecond), res.Analyze.Round(time.Millisecond), res.TenantCalls)

	logPath := filepath.Join(logDir, "bench-list.log")
	api, err := startSelf(ctx, "dialq API", logPath, "serve",
		dialqProcs{API: true, DSN: f.DSN, Redis: e.RedisAddr, Queue: benchName("bench_list_"), Channel: benchName("bench:ch:")})
	if err != nil {
		return nil, err
	}
	defer api.stop()

	cases, err := listCases(ctx, f, now, res.TenantCalls/2)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var slow []string
	for _, c := range cases {
		if err := c.time(ctx, client, api.Addr, f.Key, o.Requests); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		if c.Plan, err = explainList(ctx, f, c.Query); err != nil {
			return nil, fmt.Errorf("explain %s: %w", c.Name, err)
		}
		logf("list %-32s rows %3d  p50 %s  p95 %s\n%s", c.Name, c.Rows, ms(c.P50), ms(c.P95), c.Plan)
		if c.P50 > targetListP50 {
			slow = append(slow, fmt.Sprintf("%s p50 %s", c.Name, ms(c.P50)))
		}
		res.Cases = append(res.Cases, c.listCase)
	}
	if len(slow) > 0 {
		return res, fmt.Errorf("GET /calls over %d calls is over %s at p50: %s", o.Calls, ms(targetListP50), strings.Join(slow, "; "))
	}
	return res, nil
}

// fillCalls stores o.Calls calls: 40% the bench tenant's, the rest over the
// other tenants; statuses as a busy tenant sees them (mostly completed and
// the callee's refusals, a few hundred live ones, made in the last ten
// minutes); 200,000 numbers; five busy assistants a tenant and a sixth
// that made one call in a thousand; made over the 30
// days before now. calls' indexes are dropped for the fill and built
// again after, from their own definitions: one sort each instead of a
// million inserts into each.
func fillCalls(ctx context.Context, f *fixture, o listOptions, now time.Time, res *listResult) error {
	conn, err := f.admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET search_path = "+f.Schema+"; SET synchronous_commit = off; SET maintenance_work_mem = '256MB'"); err != nil {
		return err
	}
	tenants := []string{f.Tenant.String()}
	for i := 1; i < o.Tenants; i++ {
		t := uuid.New()
		if _, err := conn.ExecContext(ctx, "INSERT INTO tenants (id, name) VALUES ($1, $2)", t, fmt.Sprintf("bench-%d", i)); err != nil {
			return err
		}
		tenants = append(tenants, t.String())
	}
	var defs []string
	rows, err := conn.QueryContext(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = $1 AND tablename = 'calls' AND indexname <> 'calls_pkey'`, f.Schema)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return err
		}
		names, defs = append(names, name), append(defs, def)
	}
	rows.Close()
	for _, name := range names {
		if _, err := conn.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return err
		}
	}

	t0 := time.Now()
	if _, err := conn.ExecContext(ctx, fillSQL, "{"+strings.Join(tenants, ",")+"}", now, o.Calls); err != nil {
		return fmt.Errorf("fill calls: %w", err)
	}
	res.Fill = time.Since(t0)
	t0 = time.Now()
	for _, def := range defs {
		if _, err := conn.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("rebuild index: %w", err)
		}
	}
	res.Indexes = time.Since(t0)
	t0 = time.Now()
	if _, err := conn.ExecContext(ctx, "VACUUM ANALYZE calls"); err != nil {
		return err
	}
	res.Analyze = time.Since(t0)
	return conn.QueryRowContext(ctx, "SELECT count(*) FROM calls WHERE tenant_id = $1", f.Tenant).Scan(&res.TenantCalls)
}

// fillSQL makes $3 calls in one statement. $1 are the tenants, the bench
// tenant first; $2 is now. Tenant 1 gets 4 calls in 10, the others share
// the rest.
const fillSQL = `
INSERT INTO calls (id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata,
                   prompt, start_instruction, agent_name, livekit_trunk_id, status, failure_reason,
                   sip_status_code, sip_status, last_error, attempts, room_name, dispatch_id, dispatch_state,
                   participant_identity, end_reason, ended_by, created_at, updated_at, dialed_at, answered_at, ended_at)
SELECT id, tenant, md5(tenant::text || ':' || a)::uuid, 'ST_bench', num, 'twilio', '{"name": "John Doe", "company": "Acme Corp"}',
       'Hello John Doe, you are calling from Acme Corp. Be brief, be kind, and confirm the appointment for tomorrow.',
       'Hi John Doe, this is Sarah speaking.', 'bench-agent', 'ST_bench', status,
       CASE WHEN status IN ('busy', 'no_answer', 'rejected', 'unreachable', 'canceled') THEN status
            WHEN status = 'failed' THEN 'carrier_error' ELSE '' END,
       CASE status WHEN 'completed' THEN 200 WHEN 'answered' THEN 200 WHEN 'busy' THEN 486 WHEN 'no_answer' THEN 480
                   WHEN 'rejected' THEN 603 WHEN 'unreachable' THEN 404 WHEN 'failed' THEN 503 ELSE 0 END,
       '', '', 1, tenant::text || '_' || left(id::text, 12), 'AD_bench', 'JOINED', 'phone-' || num,
       CASE status WHEN 'completed' THEN 'phone hung up' WHEN 'canceled' THEN 'hung up by API'
                   WHEN 'failed' THEN 'the carrier failed the call' ELSE '' END,
       CASE WHEN status IN ('completed', 'busy', 'no_answer', 'rejected', 'unreachable') THEN 'phone'
            WHEN status = 'canceled' THEN 'api' WHEN status = 'failed' THEN 'dialq' ELSE '' END,
       created, created + interval '40 seconds',
       CASE WHEN status <> 'queued' THEN created + interval '1 second' END,
       CASE WHEN status IN ('completed', 'answered') THEN created + interval '8 seconds' END,
       CASE WHEN status NOT IN ('queued', 'dialing', 'ringing', 'answered') THEN created + interval '40 seconds' END
FROM (
    SELECT gen_random_uuid() AS id,
           ($1::uuid[])[CASE WHEN g % 10 < 4 THEN 1 ELSE 2 + (g % 10 - 4) % (cardinality($1::uuid[]) - 1) END] AS tenant,
           CASE WHEN random() < 0.001 THEN 5 ELSE floor(random() * 5)::int END AS a,
           '+1555' || lpad(floor(random() * 200000)::int::text, 7, '0') AS num,
           CASE WHEN r < 0.0002 THEN 'queued' WHEN r < 0.0005 THEN 'ringing' WHEN r < 0.001 THEN 'dialing'
                WHEN r < 0.002 THEN 'answered' WHEN r < 0.58 THEN 'completed' WHEN r < 0.74 THEN 'no_answer'
                WHEN r < 0.82 THEN 'busy' WHEN r < 0.89 THEN 'failed' WHEN r < 0.93 THEN 'rejected'
                WHEN r < 0.97 THEN 'unreachable' ELSE 'canceled' END AS status,
           CASE WHEN r < 0.002 THEN $2::timestamptz - random() * interval '10 minutes'
                ELSE $2::timestamptz - random() * interval '30 days' END AS created
    FROM (SELECT g, random() AS r FROM generate_series(1, $3::int) g) s
) c`

// listBench is a listCase, timed by its time method.
type listBench struct {
	listCase
}

// listCases are the pages timed: the first, one deep in the list through
// its cursor (after the deep newest calls), and each filter, values taken from what the fill stored.
func listCases(ctx context.Context, f *fixture, now time.Time, deep int) ([]*listBench, error) {
	var deepAt time.Time
	var deepID, number string
	err := f.admin.QueryRowContext(ctx, `SELECT created_at, id FROM `+f.Schema+`.calls WHERE tenant_id = $1
		ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1`, f.Tenant, deep).Scan(&deepAt, &deepID)
	if err != nil {
		return nil, fmt.Errorf("find a deep page: %w", err)
	}
	err = f.admin.QueryRowContext(ctx, `SELECT to_number FROM `+f.Schema+`.calls WHERE tenant_id = $1
		ORDER BY created_at DESC LIMIT 1 OFFSET 1000`, f.Tenant).Scan(&number)
	if err != nil {
		return nil, err
	}
	cursor := dialq.CursorAfter(&dialq.Call{CreatedAt: deepAt, ID: uuid.MustParse(deepID)})
	// One of the tenant's five busy assistants and its rare sixth, as the
	// fill makes them.
	var assistant, rare uuid.UUID
	if err := f.admin.QueryRowContext(ctx, `SELECT md5($1::text || ':3')::uuid, md5($1::text || ':5')::uuid`,
		f.Tenant.String()).Scan(&assistant, &rare); err != nil {
		return nil, err
	}
	day := now.Add(-15 * 24 * time.Hour).Truncate(time.Hour)
	mk := func(name string, q url.Values) *listBench {
		return &listBench{listCase: listCase{Name: name, Query: q.Encode()}}
	}
	return []*listBench{
		mk("first page", url.Values{"limit": {"50"}}),
		mk(fmt.Sprintf("deep page (cursor at %d)", deep), url.Values{"limit": {"50"}, "cursor": {cursor}}),
		mk("status=ringing (rare)", url.Values{"status": {"ringing"}}),
		mk("status=completed (common)", url.Values{"status": {"completed"}}),
		mk("status=busy, deep (cursor)", url.Values{"status": {"busy"}, "cursor": {cursor}}),
		mk("to_number", url.Values{"to_number": {number}}),
		mk("assistant_id", url.Values{"assistant_id": {assistant.String()}}),
		mk("assistant_id (rare: 0.1% of calls)", url.Values{"assistant_id": {rare.String()}}),
		mk("assistant_id + status=rejected", url.Values{"assistant_id": {assistant.String()}, "status": {"rejected"}}),
		mk("created_from/to (one day)", url.Values{"created_from": {day.Format(time.RFC3339)},
			"created_to": {day.Add(24 * time.Hour).Format(time.RFC3339)}}),
		mk("created_from/to + status=busy", url.Values{"status": {"busy"}, "created_from": {day.Format(time.RFC3339)},
			"created_to": {day.Add(24 * time.Hour).Format(time.RFC3339)}}),
	}, nil
}

// time runs GET /calls?<query> n times in a row, after 3 not counted.
func (c *listBench) time(ctx context.Context, client *http.Client, addr, key string, n int) error {
	var d []time.Duration
	for i := range n + 3 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/calls?"+c.Query, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t0)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		c.Rows = len(page.Data)
		if i >= 3 {
			d = append(d, took)
		}
	}
	slices.Sort(d)
	c.P50, c.P95, c.Max = d[len(d)/2], d[len(d)*95/100], d[len(d)-1]
	return nil
}

// explainList is EXPLAIN (ANALYZE, BUFFERS) of the statement ListCalls
// runs for the page's query.
func explainList(ctx context.Context, f *fixture, query string) (string, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", err
	}
	var filter dialq.CallFilter
	filter.Status = dialq.CallStatus(q.Get("status"))
	filter.ToNumber = q.Get("to_number")
	filter.After = q.Get("cursor")
	if a := q.Get("assistant_id"); a != "" {
		filter.AssistantID = uuid.MustParse(a)
	}
	for name, t := range map[string]*time.Time{"created_from": &filter.CreatedFrom, "created_to": &filter.CreatedTo} {
		if v := q.Get(name); v != "" {
			if *t, err = time.Parse(time.RFC3339, v); err != nil {
				return "", err
			}
		}
	}
	if err := filter.Validate(); err != nil {
		return "", err
	}
	filter.Limit++ // as the calls service asks: one more tells whether there is a next page
	stmt, args := postgres.ListCallsSQL(f.Tenant, filter)
	conn, err := f.admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET search_path = "+f.Schema); err != nil {
		return "", err
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+stmt, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line sql.NullString
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		lines = append(lines, line.String)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// markdown is the benchmark's table.
func (r *listResult) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.Options
	p("#### `GET /calls` over %d calls\n\n", o.Calls)
	p("%d tenants; the one listed has %d calls. Filled in %s (one `INSERT … SELECT generate_series`), indexes rebuilt in %s, "+
		"`VACUUM ANALYZE` %s. %d requests a case, one at a time, after 3 not counted; target p50 ≤ %s.\n\n",
		o.Tenants, r.TenantCalls, r.Fill.Round(time.Millisecond), r.Indexes.Round(time.Millisecond), r.Analyze.Round(time.Millisecond),
		o.Requests, ms(targetListP50))
	p("| page | calls | p50 ms | p95 ms | max ms | p50 ≤ 50 ms |\n|---|---:|---:|---:|---:|---|\n")
	for _, c := range r.Cases {
		p("| %s | %d | %s | %s | %s | %s |\n", c.Name, c.Rows, msf(c.P50), msf(c.P95), msf(c.Max), verdict(c.P50 <= targetListP50))
	}
	p("\n")
	return b.String()
}
