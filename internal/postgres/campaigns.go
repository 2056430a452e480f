package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

const campaignColumns = `id, tenant_id, name, assistant_id, trunk_id, call_service, settings, status,
	status_reason, contacts_total, created_at, updated_at, ended_at, paced_at, pace_credit, caller_id_next, failures_from`

// campaignRow is a campaigns row as scanned; settings is JSON in the table.
type campaignRow struct {
	dialq.Campaign
	SettingsJSON []byte `db:"settings"`
}

func (r *campaignRow) campaign() (*dialq.Campaign, error) {
	c := r.Campaign
	if err := json.Unmarshal(r.SettingsJSON, &c.Settings); err != nil {
		return nil, fmt.Errorf("decode settings of campaign %s: %w", c.ID, err)
	}
	return &c, nil
}

// CreateCampaign stores a new campaign as c says (its settings with their
// defaults filled) with contacts, in one transaction (contacts_total
// counts them): a scheduler never
// sees a dialing campaign whose contacts are not all there yet (it would
// complete it). InsertContacts adds more to a campaign that is not
// dialing.
func (s *DB) CreateCampaign(ctx context.Context, c *dialq.Campaign, contacts ...dialq.Contact) error {
	b, err := json.Marshal(c.Settings)
	if err != nil {
		return fmt.Errorf("encode campaign settings: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO campaigns (id, tenant_id, name, assistant_id, trunk_id, call_service,
		settings, status, status_reason, contacts_total, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10)`,
		c.ID, c.TenantID, c.Name, c.AssistantID, c.TrunkID, c.Service, b, c.Status, c.StatusReason, c.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert campaign: %w", err)
	}
	if err := s.insertContacts(ctx, tx, contacts); err != nil {
		return err
	}
	return tx.Commit()
}

// FindCampaign returns the tenant's campaign id.
// Returns ENOTFOUND if it does not exist or belongs to another tenant.
func (s *DB) FindCampaign(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Campaign, error) {
	var r campaignRow
	err := s.get(ctx, &r, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return nil, notFound(err, "Campaign %s not found.", id)
	}
	return r.campaign()
}

// ListCampaigns returns up to limit of the tenant's campaigns, newest
// first, after the one at (afterAt, afterID) when afterID is not nil.
func (s *DB) ListCampaigns(ctx context.Context, tenantID uuid.UUID, afterAt time.Time, afterID uuid.UUID, limit int) ([]*dialq.Campaign, error) {
	q := `SELECT ` + campaignColumns + ` FROM campaigns WHERE tenant_id = $1`
	args := []any{tenantID, limit}
	if afterID != uuid.Nil {
		q += ` AND (created_at, id) < ($3, $4)`
		args = append(args, afterAt, afterID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT $2`
	var rows []campaignRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	out := make([]*dialq.Campaign, 0, len(rows))
	for i := range rows {
		c, err := rows[i].campaign()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// MoveCampaign moves the tenant's campaign id from one of the statuses
// from to status to with reason, and returns it as it is then. Moving to
// paused, running or scheduled restarts its auto-pause count when the move
// is a resume (clearFailures); moving to canceled ends it and cancels its
// pending contacts in the same transaction. Returns ENOTFOUND if it is not
// the tenant's, and ECONFLICT naming its status if it is in none of from.
func (s *DB) MoveCampaign(ctx context.Context, tenantID, id uuid.UUID, from []dialq.CampaignStatus,
	to dialq.CampaignStatus, reason string, clearFailures bool) (*dialq.Campaign, error) {
	now := s.now()
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	fromText := make([]string, len(from))
	for i, f := range from {
		fromText[i] = string(f)
	}
	var r campaignRow
	err = tx.GetContext(ctx, &r, `UPDATE campaigns SET status = $3, status_reason = $4, updated_at = $5,
			failures_from = CASE WHEN $6 THEN $5 ELSE failures_from END,
			ended_at = CASE WHEN $3 IN ('completed', 'canceled') THEN $5 ELSE ended_at END
		WHERE id = $1 AND tenant_id = $2 AND status = ANY($7)
		RETURNING `+campaignColumns, id, tenantID, to, reason, now, clearFailures, pq.Array(fromText))
	if errors.Is(err, sql.ErrNoRows) {
		c, ferr := s.FindCampaign(ctx, tenantID, id)
		if ferr != nil {
			return nil, ferr
		}
		return nil, dialq.Errorf(dialq.ECONFLICT, "Campaign %s is %s; it cannot be made %s.", id, c.Status, to)
	}
	if err != nil {
		return nil, fmt.Errorf("move campaign %s to %s: %w", id, to, err)
	}
	if to == dialq.CampaignCanceled {
		if _, err := tx.ExecContext(ctx, `UPDATE campaign_contacts SET status = 'canceled', reason = $2, updated_at = $3
			WHERE campaign_id = $1 AND status = 'pending'`, id, "the campaign was canceled", now); err != nil {
			return nil, fmt.Errorf("cancel pending contacts of campaign %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return r.campaign()
}

// CampaignProgress counts the campaign's contacts per status and its calls
// per status, the calls started since since (the dial rate's minute) and
// how many of its ended calls were answered. The campaign must be one the
// caller may see (FindCampaign).
func (s *DB) CampaignProgress(ctx context.Context, id uuid.UUID, since time.Time) (p dialq.CampaignProgress, answered, ended, recent int, err error) {
	p.Contacts, p.Outcomes = map[dialq.ContactStatus]int{}, map[dialq.CallStatus]int{}
	var byStatus []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err = s.db.SelectContext(ctx, &byStatus, `SELECT status, count(*) AS n FROM campaign_contacts
		WHERE campaign_id = $1 GROUP BY status`, id); err != nil {
		return p, 0, 0, 0, fmt.Errorf("count contacts of campaign %s: %w", id, err)
	}
	for _, r := range byStatus {
		p.Contacts[dialq.ContactStatus(r.Status)] = r.N
	}
	byStatus = nil
	if err = s.db.SelectContext(ctx, &byStatus, `SELECT status, count(*) AS n FROM calls
		WHERE campaign_id = $1 GROUP BY status`, id); err != nil {
		return p, 0, 0, 0, fmt.Errorf("count calls of campaign %s: %w", id, err)
	}
	for _, r := range byStatus {
		p.Outcomes[dialq.CallStatus(r.Status)] = r.N
		p.Calls += r.N
	}
	var row struct {
		Answered int `db:"answered"`
		Ended    int `db:"ended"`
		Recent   int `db:"recent"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT count(*) FILTER (WHERE ended_at IS NOT NULL AND answered_at IS NOT NULL) AS answered,
		count(*) FILTER (WHERE ended_at IS NOT NULL) AS ended, count(*) FILTER (WHERE created_at >= $2) AS recent
		FROM calls WHERE campaign_id = $1`, id, since)
	if err != nil {
		return p, 0, 0, 0, fmt.Errorf("count answered calls of campaign %s: %w", id, err)
	}
	return p, row.Answered, row.Ended, row.Recent, nil
}

// CampaignMetadataKeys returns the metadata keys of the campaign's
// contacts, sorted: the export's extra columns.
func (s *DB) CampaignMetadataKeys(ctx context.Context, id uuid.UUID) ([]string, error) {
	var keys []string
	err := s.db.SelectContext(ctx, &keys, `SELECT DISTINCT k FROM campaign_contacts, jsonb_object_keys(metadata) AS k
		WHERE campaign_id = $1 ORDER BY k`, id)
	if err != nil {
		return nil, fmt.Errorf("list metadata keys of campaign %s: %w", id, err)
	}
	return keys, nil
}

// exportTimeout bounds one export's query.
const exportTimeout = "30min"

// ExportCampaign calls fn with every contact of the campaign in line order,
// with its last call, as Postgres streams them: memory stays flat however
// many there are. An error of fn stops it and is returned.
func (s *DB) ExportCampaign(ctx context.Context, id uuid.UUID, fn func(dialq.ContactExport) error) error {
	// The rows go out as fast as the client reads them: a big campaign
	// over a slow link outlasts the store's statement_timeout, which is
	// for statements that hold a connection by themselves.
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL statement_timeout = '`+exportTimeout+`'`); err != nil {
		return fmt.Errorf("export campaign %s: %w", id, err)
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+prefixed("cc.", contactColumns)+`,
			coalesce(c.sip_status_code, 0) AS sip_status_code,
			CASE WHEN c.answered_at IS NOT NULL AND c.ended_at IS NOT NULL
			     THEN extract(epoch FROM c.ended_at - c.answered_at) END AS duration_seconds,
			coalesce(c.report->>'answered_by', '') AS answered_by,
			coalesce(c.report->>'disposition', '') AS disposition,
			coalesce(c.report->>'summary', '') AS summary
		FROM campaign_contacts cc LEFT JOIN calls c ON c.id = cc.call_id
		WHERE cc.campaign_id = $1 ORDER BY cc.line`, id)
	if err != nil {
		return fmt.Errorf("export campaign %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r struct {
			contactRow
			SIPStatusCode int             `db:"sip_status_code"`
			Duration      sql.NullFloat64 `db:"duration_seconds"`
			AnsweredBy    string          `db:"answered_by"`
			Disposition   string          `db:"disposition"`
			Summary       string          `db:"summary"`
		}
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("read contact of campaign %s: %w", id, err)
		}
		c, err := r.contact()
		if err != nil {
			return err
		}
		out := dialq.ContactExport{Contact: *c, SIPStatusCode: r.SIPStatusCode, AnsweredBy: r.AnsweredBy, Disposition: r.Disposition, Summary: r.Summary}
		if r.Duration.Valid {
			d := time.Duration(r.Duration.Float64 * float64(time.Second))
			out.Duration = &d
		}
		if err := fn(out); err != nil {
			return err
		}
	}
	return rows.Err()
}

// prefixed puts prefix before each of a column list's names.
func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// stoppedLookback is how long after a campaign paused or was canceled its
// passes look for live calls to apply: past the longest call
// (DIALQ_MAX_CALL_DURATION, 1 h by default) and its ring, with room to
// spare, so that the canceled campaigns of years are not read every tick.
const stoppedLookback = "6 hours"

// ClaimCampaign begins a scheduler pass over one campaign with work to do
// at now: dialing (running, or scheduled past its start_at), or paused or
// canceled with calls still live whose outcomes are to apply. skip are the
// campaigns this pass already did. A campaign another worker's pass holds
// is skipped (FOR UPDATE SKIP LOCKED), so several workers share the
// campaigns and never pass over the same one at once. It returns nil when
// none is left.
func (s *DB) ClaimCampaign(ctx context.Context, now time.Time, skip []uuid.UUID) (dialq.CampaignPass, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	ids := make([]string, len(skip))
	for i, id := range skip {
		ids[i] = id.String()
	}
	var r campaignRow
	err = tx.GetContext(ctx, &r, `SELECT `+campaignColumns+` FROM campaigns cp
		WHERE (status = 'running'
		    OR (status = 'scheduled' AND coalesce((settings->>'start_at')::timestamptz <= $1, true))
		    OR (status IN ('paused', 'canceled') AND updated_at > $1 - interval '`+stoppedLookback+`' AND EXISTS (
		        SELECT 1 FROM campaign_contacts cc WHERE cc.campaign_id = cp.id AND cc.status = 'calling')))
		  AND NOT (id = ANY($2::uuid[]))
		ORDER BY paced_at NULLS FIRST, id
		LIMIT 1 FOR UPDATE SKIP LOCKED`, now, pq.Array(ids))
	if errors.Is(err, sql.ErrNoRows) {
		tx.Rollback()
		return nil, nil
	}
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("claim a campaign: %w", err)
	}
	c, err := r.campaign()
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	return &campaignPass{tx: tx, c: c, now: s.now}, nil
}

// campaignPass is dialq.CampaignPass over one transaction.
type campaignPass struct {
	tx  *sqlx.Tx
	c   *dialq.Campaign
	now func() time.Time
}

func (p *campaignPass) Campaign() *dialq.Campaign { return p.c }

func (p *campaignPass) Commit() error {
	if err := p.tx.Commit(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("commit pass of campaign %s: %w", p.c.ID, err)
	}
	return nil
}

func (p *campaignPass) Rollback() error {
	if err := p.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

func (p *campaignPass) SavePace(ctx context.Context, pacedAt time.Time, credit float64, callerIDNext int64) error {
	_, err := p.tx.ExecContext(ctx, `UPDATE campaigns SET paced_at = $2, pace_credit = $3, caller_id_next = $4 WHERE id = $1`,
		p.c.ID, pacedAt, credit, callerIDNext)
	if err != nil {
		return fmt.Errorf("save pace of campaign %s: %w", p.c.ID, err)
	}
	return nil
}

func (p *campaignPass) SetStatus(ctx context.Context, status dialq.CampaignStatus, reason string, now time.Time) error {
	_, err := p.tx.ExecContext(ctx, `UPDATE campaigns SET status = $2, status_reason = $3, updated_at = $4,
			ended_at = CASE WHEN $2 IN ('completed', 'canceled') THEN coalesce(ended_at, $4) ELSE ended_at END
		WHERE id = $1`, p.c.ID, status, reason, now)
	if err != nil {
		return fmt.Errorf("move campaign %s to %s: %w", p.c.ID, status, err)
	}
	p.c.Status, p.c.StatusReason = status, reason
	return nil
}

func (p *campaignPass) Failures(ctx context.Context, since time.Time) (dialq.FailureShare, error) {
	var f struct {
		Ended  int `db:"ended"`
		Failed int `db:"failed"`
	}
	err := p.tx.GetContext(ctx, &f, `SELECT count(*) AS ended, count(*) FILTER (WHERE status IN ('failed', 'unreachable')) AS failed
		FROM calls WHERE campaign_id = $1 AND ended_at IS NOT NULL AND ended_at >= $2`, p.c.ID, since)
	if err != nil {
		return dialq.FailureShare{}, fmt.Errorf("count failed calls of campaign %s: %w", p.c.ID, err)
	}
	return dialq.FailureShare{Ended: f.Ended, Failed: f.Failed}, nil
}
