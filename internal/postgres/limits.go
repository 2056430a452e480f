package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

// LimitsOf returns the limits of call c that the store holds, those that
// cap something: its trunk's, then its tenant's, as they are now (a limit
// changed while the call waits applies to it). A trunk deleted since the
// call was accepted caps nothing.
func (s *DB) LimitsOf(ctx context.Context, c *dialq.Call) ([]dialq.Limit, error) {
	var r struct {
		Tenant   dialq.CallLimits `db:"tenant"`
		Trunk    dialq.CallLimits `db:"trunk"`
		Campaign int              `db:"campaign"`
	}
	err := s.get(ctx, &r, `
		SELECT t.max_concurrent_calls AS "tenant.max_concurrent_calls", t.calls_per_second AS "tenant.calls_per_second",
		       coalesce(tr.max_concurrent_calls, 0) AS "trunk.max_concurrent_calls",
		       coalesce(tr.calls_per_second, 0) AS "trunk.calls_per_second",
		       coalesce((ca.settings->>'max_concurrency')::integer, 0) AS campaign
		FROM tenants t LEFT JOIN trunks tr ON tr.id = $2 AND tr.tenant_id = t.id
		LEFT JOIN campaigns ca ON ca.id = $3 AND ca.tenant_id = t.id
		WHERE t.id = $1`, c.TenantID, c.TrunkID, c.CampaignID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // no tenant: it was deleted, and its calls with it
	}
	if err != nil {
		return nil, fmt.Errorf("read limits of call %s: %w", c.ID, err)
	}
	var out []dialq.Limit
	if l, ok := r.Trunk.Limit(dialq.TrunkLimitKey(c.TrunkID)); ok {
		out = append(out, l)
	}
	if l, ok := r.Tenant.Limit(dialq.TenantLimitKey(c.TenantID)); ok {
		out = append(out, l)
	}
	if c.CampaignID != nil && r.Campaign > 0 {
		out = append(out, dialq.Limit{Key: dialq.CampaignLimitKey(*c.CampaignID), MaxConcurrent: r.Campaign})
	}
	return out, nil
}

// LiveCalls returns those of ids that are calls not over yet (queued or
// live), in one statement: the limiter's janitor frees the slots of the
// others.
func (s *DB) LiveCalls(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	text := make([]string, len(ids))
	for i, id := range ids {
		text[i] = id.String()
	}
	var live []uuid.UUID
	err := s.db.SelectContext(ctx, &live,
		`SELECT id FROM calls WHERE id = ANY($1::uuid[]) `+notIn(terminal()), pq.Array(text))
	if err != nil {
		return nil, fmt.Errorf("find live calls among %d: %w", len(ids), err)
	}
	return live, nil
}
