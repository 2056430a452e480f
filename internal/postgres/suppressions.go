package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

// Suppress puts numbers (valid E.164, deduplicated by the caller or not)
// on tenant's do-not-call list with reason; a number already there keeps
// its first reason. Returns how many were new.
func (s *DB) Suppress(ctx context.Context, tenant uuid.UUID, numbers []string, reason string) (int, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO suppressions (tenant_id, number, reason, created_at)
		SELECT $1, n, $3, $4 FROM unnest($2::text[]) n ON CONFLICT (tenant_id, number) DO NOTHING`,
		tenant, pq.Array(numbers), reason, s.now())
	if err != nil {
		return 0, fmt.Errorf("suppress numbers: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// IsSuppressed reports whether number is on tenant's do-not-call list: the
// scheduler asks right before each dial.
func (s *DB) IsSuppressed(ctx context.Context, tenant uuid.UUID, number string) (bool, error) {
	var found bool
	if err := s.get(ctx, &found, `SELECT EXISTS (SELECT 1 FROM suppressions WHERE tenant_id = $1 AND number = $2)`,
		tenant, number); err != nil {
		return false, fmt.Errorf("check suppression: %w", err)
	}
	return found, nil
}

// ListSuppressions returns up to limit of tenant's suppressed numbers,
// newest first, after the one at (afterAt, afterNumber) when afterNumber is
// set: the order (created_at, number) descending, which a cursor continues
// exactly.
func (s *DB) ListSuppressions(ctx context.Context, tenant uuid.UUID, limit int, afterAt time.Time, afterNumber string) ([]dialq.Suppression, error) {
	q := `SELECT number, reason, created_at FROM suppressions WHERE tenant_id = $1`
	args := []any{tenant, limit}
	if afterNumber != "" {
		q += ` AND (created_at, number) < ($3, $4)`
		args = append(args, afterAt, afterNumber)
	}
	q += ` ORDER BY created_at DESC, number DESC LIMIT $2`
	out := []dialq.Suppression{}
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	return out, nil
}

// DeleteSuppression takes number off tenant's do-not-call list. Returns
// ENOTFOUND if it is not on it.
func (s *DB) DeleteSuppression(ctx context.Context, tenant uuid.UUID, number string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM suppressions WHERE tenant_id = $1 AND number = $2`, tenant, number)
	if err != nil {
		return fmt.Errorf("delete suppression: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return dialq.Errorf(dialq.ENOTFOUND, "%s is not on the do-not-call list.", number)
	}
	return nil
}
