package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

// UploadStatementTimeout is how long one statement of an upload may run:
// the COPY of the contacts lasts as long as the client takes to send them.
const UploadStatementTimeout = 30 * time.Minute

// contactUpload stages an upload's contacts in a temporary table of its
// own transaction, loaded with COPY as they stream in: nothing of the
// upload is held in memory, and nothing is stored until Commit.
type contactUpload struct {
	db   *DB
	tx   *sqlx.Tx
	copy *sql.Stmt // open while rows are added
	done bool
}

// BeginContactUpload starts staging an upload's contacts. The caller must
// Commit or Rollback it.
func (s *DB) BeginContactUpload(ctx context.Context) (dialq.ContactStaging, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin upload: %w", err)
	}
	u := &contactUpload{db: s, tx: tx}
	stmts := []string{
		fmt.Sprintf(`SET LOCAL statement_timeout = %d`, UploadStatementTimeout.Milliseconds()),
		// kind is NULL while the row is valid.
		`CREATE TEMP TABLE contact_upload (
			line      bigint NOT NULL,
			to_number text NOT NULL,
			timezone  text NOT NULL,
			metadata  jsonb NOT NULL,
			kind      text,
			field     text NOT NULL DEFAULT '',
			reason    text NOT NULL DEFAULT ''
		) ON COMMIT DROP`,
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("stage upload: %w", err)
		}
	}
	if u.copy, err = tx.PrepareContext(ctx, `COPY contact_upload (line, to_number, timezone, metadata, kind, field, reason) FROM STDIN`); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("copy upload: %w", err)
	}
	return u, nil
}

// Add implements dialq.ContactStaging.
func (u *contactUpload) Add(c dialq.StagedContact) error {
	if u.copy == nil {
		return fmt.Errorf("add contact line %d: the upload's rows are already checked", c.Line)
	}
	md := c.Metadata
	if len(md) == 0 {
		md = []byte("{}")
	}
	var kind any // NULL: valid
	field, reason := "", ""
	if p := c.Problem; p != nil {
		kind, field, reason = p.Kind, p.Field, p.Reason
	}
	if _, err := u.copy.Exec(c.Line, c.ToNumber, c.Timezone, string(md), kind, field, reason); err != nil {
		return fmt.Errorf("copy contact line %d: %w", c.Line, err)
	}
	return nil
}

// endCopy flushes and closes the COPY, once.
func (u *contactUpload) endCopy(ctx context.Context) error {
	if u.copy == nil {
		return nil
	}
	st := u.copy
	u.copy = nil
	if _, err := st.ExecContext(ctx); err != nil {
		st.Close()
		return fmt.Errorf("copy contacts: %w", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("copy contacts: %w", err)
	}
	_, err := u.tx.ExecContext(ctx, `ANALYZE contact_upload`)
	return err
}

// fills is the condition that metadata key k (an SQL expression) can fill
// a placeholder: it is there, as text, a number or a boolean.
func fills(k string) string {
	return `coalesce(jsonb_typeof(metadata -> ` + k + `) IN ('string', 'number', 'boolean'), false)`
}

// fillsAll is the condition that every key of $2 ... $n+1 fills its
// placeholder, written out key by key: an unnest per row costs three times
// as much over a million rows.
func fillsAll(n int) string {
	conds := make([]string, n)
	for i := range conds {
		conds[i] = fills(fmt.Sprintf("$%d::text", i+2))
	}
	return strings.Join(conds, " AND ")
}

// placeholderArgs are the arguments of the placeholder check: the keys as
// one array ($1), then each ($2, ...).
func placeholderArgs(required []string) []any {
	args := []any{pq.Array(required)}
	for _, k := range required {
		args = append(args, k)
	}
	return args
}

// Check implements dialq.ContactStaging. The three checks run in order over
// the rows still valid, so a row has one problem, and the first valid row
// of a number is the one kept.
func (u *contactUpload) Check(ctx context.Context, tenant uuid.UUID, required []string) (dialq.UploadCounts, error) {
	var counts dialq.UploadCounts
	if err := u.endCopy(ctx); err != nil {
		return counts, err
	}
	checks := []struct {
		name  string
		query string
		args  []any
	}{
		// A key that is there but holds an object, an array or null fills
		// no placeholder either (dialq.RenderTemplates refuses it).
		{"placeholders", `UPDATE contact_upload SET kind = 'missing_placeholder',
			field = 'metadata.' || (SELECT k FROM unnest($1::text[]) k WHERE NOT ` + fills("k") + ` ORDER BY k LIMIT 1),
			reason = 'is required by the assistant''s prompt or start instruction; missing: ' ||
				array_to_string(ARRAY(SELECT k FROM unnest($1::text[]) k WHERE NOT ` + fills("k") + ` ORDER BY k), ', ')
			WHERE kind IS NULL AND NOT (` + fillsAll(len(required)) + `)`, placeholderArgs(required)},
		{"suppressions", `UPDATE contact_upload u SET kind = 'suppressed', field = 'to_number',
			reason = 'is on the do-not-call list'
			FROM suppressions s WHERE s.tenant_id = $1 AND s.number = u.to_number AND u.kind IS NULL`, []any{tenant}},
		{"duplicates", `UPDATE contact_upload u SET kind = 'duplicate', field = 'to_number',
			reason = 'duplicate of line ' || f.first
			FROM (SELECT to_number, min(line) AS first FROM contact_upload WHERE kind IS NULL
				GROUP BY to_number HAVING count(*) > 1) f
			WHERE u.kind IS NULL AND u.to_number = f.to_number AND u.line > f.first`, nil},
	}
	for _, c := range checks {
		if len(required) == 0 && c.name == "placeholders" {
			continue
		}
		if _, err := u.tx.ExecContext(ctx, c.query, c.args...); err != nil {
			return counts, fmt.Errorf("check upload %s: %w", c.name, err)
		}
	}
	rows, err := u.tx.QueryContext(ctx, `SELECT coalesce(kind, ''), count(*) FROM contact_upload GROUP BY kind`)
	if err != nil {
		return counts, fmt.Errorf("count upload: %w", err)
	}
	defer rows.Close()
	counts.InvalidByReason = map[string]int64{}
	for rows.Next() {
		var kind string
		var n int64
		if err := rows.Scan(&kind, &n); err != nil {
			return counts, err
		}
		counts.Rows += n
		switch kind {
		case "":
			counts.Valid = n
		case dialq.ProblemDuplicate:
			counts.Duplicates = n
		case dialq.ProblemSuppressed:
			counts.Suppressed = n
		default:
			counts.Invalid += n
			counts.InvalidByReason[kind] = n
		}
	}
	return counts, rows.Err()
}

// Problems implements dialq.ContactStaging.
func (u *contactUpload) Problems(ctx context.Context, limit int) ([]dialq.ContactProblem, error) {
	out := []dialq.ContactProblem{}
	err := u.tx.SelectContext(ctx, &out, `SELECT line, field, reason, kind FROM contact_upload
		WHERE kind IS NOT NULL ORDER BY line LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list upload problems: %w", err)
	}
	return out, nil
}

// Zones implements dialq.ContactStaging.
func (u *contactUpload) Zones(ctx context.Context, def string) (map[string]int64, error) {
	rows, err := u.tx.QueryContext(ctx, `SELECT coalesce(nullif(timezone, ''), $1), count(*) FROM contact_upload
		WHERE kind IS NULL GROUP BY 1`, def)
	if err != nil {
		return nil, fmt.Errorf("count upload zones: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var zone string
		var n int64
		if err := rows.Scan(&zone, &n); err != nil {
			return nil, err
		}
		out[zone] += n
	}
	return out, rows.Err()
}

// Commit implements dialq.ContactStaging: the campaign row, then its
// contacts from the valid staged rows, in the one transaction.
func (u *contactUpload) Commit(ctx context.Context, c *dialq.Campaign, notBefore time.Time) error {
	if err := u.endCopy(ctx); err != nil {
		return err
	}
	settings, err := json.Marshal(c.Settings)
	if err != nil {
		return fmt.Errorf("encode campaign settings: %w", err)
	}
	now := u.db.now()
	c.CreatedAt, c.UpdatedAt = now, now
	if _, err := u.tx.ExecContext(ctx, `INSERT INTO campaigns (id, tenant_id, name, assistant_id, trunk_id, call_service,
		settings, status, contacts_total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		c.ID, c.TenantID, c.Name, c.AssistantID, c.TrunkID, c.Service, settings, c.Status, c.ContactsTotal, now); err != nil {
		return fmt.Errorf("insert campaign: %w", err)
	}
	res, err := u.tx.ExecContext(ctx, `INSERT INTO campaign_contacts (campaign_id, line, to_number, metadata, timezone,
		status, not_before, updated_at)
		SELECT $1, line, to_number, metadata, coalesce(nullif(timezone, ''), $2), 'pending', $3, $4
		FROM contact_upload WHERE kind IS NULL`, c.ID, c.Settings.DefaultTimezone, notBefore.Truncate(time.Microsecond), now)
	if err != nil {
		return fmt.Errorf("insert campaign contacts: %w", err)
	}
	if n, _ := res.RowsAffected(); n != int64(c.ContactsTotal) {
		return fmt.Errorf("insert campaign contacts: %d stored, %d counted", n, c.ContactsTotal)
	}
	if err := u.tx.Commit(); err != nil {
		return fmt.Errorf("commit campaign: %w", err)
	}
	u.done = true
	return nil
}

// Rollback implements dialq.ContactStaging.
func (u *contactUpload) Rollback() error {
	if u.done {
		return nil
	}
	u.done = true
	if u.copy != nil {
		u.copy.Close()
		u.copy = nil
	}
	return u.tx.Rollback()
}
