package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The calls that arrive together are inserted together: each statement
// costs Postgres a round trip, an executor start and a commit whatever its
// rows, and on the accept path those were most of a call's cost
// (docs/benchmarks.md, "Accept path"). A batch is whatever is waiting when
// a statement slot frees up; nothing waits for a batch to fill, so a call
// that comes alone is inserted at once, by the one-row statement.

// insertCallsSQL is insertCallSQL for many calls: one array a column, a
// row an index. Nullable columns come as ” for NULL.
const insertCallsSQL = `
WITH v AS (
	SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
	                     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[],
	                     $14::text[], $15::text[], $16::bigint[], $17::bool[], $18::jsonb[], $19::text[], $20::text[], $21::text[])
		AS t(id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata, prompt, start_instruction,
		     agent_name, livekit_trunk_id, status, created_at, idempotency_key, request_hash, agent_join_timeout_ms,
		     end_call_on_agent_leave, dial_options, campaign_id, contact_line, dial_by)
), c AS (
	INSERT INTO calls (id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata,
	                   prompt, start_instruction, agent_name, livekit_trunk_id, status, created_at, updated_at,
	                   idempotency_key, request_hash, agent_join_timeout_ms, end_call_on_agent_leave, dial_options,
	                   campaign_id, contact_line, dial_by)
	SELECT id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata, prompt, start_instruction,
	       agent_name, livekit_trunk_id, status, created_at, created_at, NULLIF(idempotency_key, ''),
	       CASE WHEN request_hash = '' THEN NULL ELSE decode(request_hash, 'hex') END, agent_join_timeout_ms,
	       end_call_on_agent_leave, dial_options, NULLIF(campaign_id, '')::uuid, NULLIF(contact_line, '')::bigint,
	       NULLIF(dial_by, '')::timestamptz
	FROM v
	ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
	RETURNING id, status, created_at, call_service, to_number
), e AS (
	INSERT INTO call_events (call_id, at, kind, detail, status, ignored)
	SELECT id, created_at, status, call_service || ' call to ' || to_number || ' accepted', status, false FROM c
	RETURNING call_id
)
SELECT call_id FROM e`

// maxCallBatch bounds the calls of one statement.
const maxCallBatch = 64

// newCallRow is a call to insert, as insertCallSQL's arguments.
type newCallRow struct {
	id, tenant, assistant                                     uuid.UUID
	trunk, to, service, prompt, start, agent, lkTrunk, status string
	idempotencyKey                                            string
	metadata, options                                         []byte // JSON
	createdAt                                                 time.Time
	requestHash                                               []byte
	joinMS                                                    int64
	endOnLeave                                                bool
	campaignID                                                *uuid.UUID
	contactLine                                               *int64
	dialBy                                                    *time.Time
}

func (r *newCallRow) args() []any {
	return []any{r.id, r.tenant, r.assistant, r.trunk, r.to, r.service, r.metadata, r.prompt, r.start, r.agent,
		r.lkTrunk, r.status, r.createdAt, r.idempotencyKey, r.requestHash, r.joinMS, r.endOnLeave, r.options,
		r.campaignID, r.contactLine, r.dialBy}
}

// insertReq is one call waiting to be inserted.
type insertReq struct {
	row  *newCallRow
	done chan insertResult
}

type insertResult struct {
	inserted bool // false: a call of the same idempotency key exists
	err      error
}

// callBatcher runs the inserts: at most slots statements at once, each of
// the calls waiting when it starts.
type callBatcher struct {
	one   *sqlx.Stmt // insertCallSQL
	many  *sqlx.Stmt // insertCallsSQL
	reqs  chan *insertReq
	slots chan struct{}
	wg    sync.WaitGroup
	// mu guards closed: insert sends under its read lock, close closes
	// reqs under its write lock, so no call is sent on a closed channel.
	mu     sync.RWMutex
	closed bool
	// timeout bounds a statement: no request's context is the batch's.
	timeout time.Duration
	// largest is the most calls one statement inserted (tests).
	largest atomic.Int64
}

func newCallBatcher(one, many *sqlx.Stmt, slots int, timeout time.Duration) *callBatcher {
	b := &callBatcher{one: one, many: many, reqs: make(chan *insertReq, maxCallBatch*slots),
		slots: make(chan struct{}, slots), timeout: timeout}
	b.wg.Add(1)
	go b.run()
	return b
}

// insert stores one call's row and says whether it was inserted. It waits
// for the statement whatever ctx says: a call the caller gave up on may be
// stored all the same, and its caller must know which.
func (b *callBatcher) insert(ctx context.Context, row *newCallRow) (bool, error) {
	r := &insertReq{row: row, done: make(chan insertResult, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return false, errStoreClosed
	}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		b.mu.RUnlock()
		return false, ctx.Err() // not sent: nothing stored
	}
	b.mu.RUnlock()
	res := <-r.done
	return res.inserted, res.err
}

// errStoreClosed answers a call to insert after Close.
var errStoreClosed = errors.New("the store is closed")

// close stops taking calls and waits for the statements running; the
// calls already sent are inserted.
func (b *callBatcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.reqs)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *callBatcher) run() {
	defer b.wg.Done()
	var running sync.WaitGroup
	defer running.Wait()
	for first := range b.reqs {
		b.slots <- struct{}{} // while this waits, more calls queue up
		batch := []*insertReq{first}
	more:
		for len(batch) < maxCallBatch {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		running.Add(1)
		go func() {
			defer running.Done()
			defer func() { <-b.slots }()
			b.exec(batch)
		}()
	}
}

// exec inserts batch. When the statement of many fails, each call is
// tried alone, so that each gets its own answer: the failed statement
// stored none of them.
func (b *callBatcher) exec(batch []*insertReq) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	if len(batch) > 1 {
		inserted, err := b.execMany(ctx, batch)
		if err == nil {
			raiseTo(&b.largest, int64(len(batch)))
			for _, r := range batch {
				r.done <- insertResult{inserted: inserted[r.row.id]}
			}
			return
		}
	}
	for _, r := range batch {
		res, err := b.one.ExecContext(ctx, r.row.args()...)
		if err != nil {
			r.done <- insertResult{err: err}
			continue
		}
		n, err := res.RowsAffected()
		r.done <- insertResult{inserted: err == nil && n == 1, err: err}
	}
}

func (b *callBatcher) execMany(ctx context.Context, batch []*insertReq) (map[uuid.UUID]bool, error) {
	n := len(batch)
	text := func() []string { return make([]string, 0, n) }
	id, tenant, assistant, trunk, to, service, metadata := text(), text(), text(), text(), text(), text(), text()
	prompt, start, agent, lkTrunk, status, createdAt := text(), text(), text(), text(), text(), text()
	key, hash, options, campaign, line, dialBy := text(), text(), text(), text(), text(), text()
	joinMS, endOnLeave := make([]int64, 0, n), make([]bool, 0, n)
	for _, r := range batch {
		c := r.row
		id, tenant, assistant = append(id, c.id.String()), append(tenant, c.tenant.String()), append(assistant, c.assistant.String())
		trunk, to, service = append(trunk, c.trunk), append(to, c.to), append(service, c.service)
		metadata, prompt, start = append(metadata, string(c.metadata)), append(prompt, c.prompt), append(start, c.start)
		agent, lkTrunk, status = append(agent, c.agent), append(lkTrunk, c.lkTrunk), append(status, c.status)
		createdAt, key = append(createdAt, c.createdAt.Format(time.RFC3339Nano)), append(key, c.idempotencyKey)
		hash, options = append(hash, hex.EncodeToString(c.requestHash)), append(options, string(c.options))
		joinMS, endOnLeave = append(joinMS, c.joinMS), append(endOnLeave, c.endOnLeave)
		campaign, line, dialBy = append(campaign, ""), append(line, ""), append(dialBy, "")
		if c.campaignID != nil {
			campaign[len(campaign)-1] = c.campaignID.String()
		}
		if c.contactLine != nil {
			line[len(line)-1] = strconv.FormatInt(*c.contactLine, 10)
		}
		if c.dialBy != nil {
			dialBy[len(dialBy)-1] = c.dialBy.Format(time.RFC3339Nano)
		}
	}
	a := func(s []string) pq.StringArray { return s }
	args := []any{a(id), a(tenant), a(assistant), a(trunk), a(to), a(service), a(metadata), a(prompt), a(start),
		a(agent), a(lkTrunk), a(status), a(createdAt), a(key), a(hash), pq.Int64Array(joinMS), pq.BoolArray(endOnLeave),
		a(options), a(campaign), a(line), a(dialBy)}
	rows, err := b.many.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	inserted := make(map[uuid.UUID]bool, len(batch))
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		inserted[id] = true
	}
	return inserted, rows.Err()
}

// raiseTo sets a to n if n is more, whoever else raises it meanwhile.
func raiseTo(a *atomic.Int64, n int64) {
	for was := a.Load(); n > was; was = a.Load() {
		if a.CompareAndSwap(was, n) {
			return
		}
	}
}
