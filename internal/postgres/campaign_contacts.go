package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

const contactColumns = `campaign_id, line, to_number, metadata, timezone, status, outcome, attempts, not_before, call_id, updated_at, reason`

// contactRow is a campaign_contacts row as scanned.
type contactRow struct {
	dialq.Contact
	MetadataJSON []byte `db:"metadata"`
}

func (r *contactRow) contact() (*dialq.Contact, error) {
	c := r.Contact
	if err := json.Unmarshal(r.MetadataJSON, &c.Metadata); err != nil {
		return nil, fmt.Errorf("decode metadata of contact %d of campaign %s: %w", c.Line, c.CampaignID, err)
	}
	return &c, nil
}

// InsertContacts adds contacts to their campaign (each names it) in one
// COPY, and counts them in its contacts_total. A contact without a status
// is pending; without not_before, due now. A dialing campaign whose
// contacts are all done before the rest is added completes: give a new
// campaign its contacts with CreateCampaign.
func (s *DB) InsertContacts(ctx context.Context, contacts []dialq.Contact) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := s.insertContacts(ctx, tx, contacts); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *DB) insertContacts(ctx context.Context, tx *sql.Tx, contacts []dialq.Contact) error {
	if len(contacts) == 0 {
		return nil
	}
	now := s.now()
	st, err := tx.PrepareContext(ctx, `COPY campaign_contacts (campaign_id, line, to_number, metadata,
		timezone, status, not_before, updated_at) FROM STDIN`)
	if err != nil {
		return fmt.Errorf("copy contacts: %w", err)
	}
	counts := map[uuid.UUID]int{}
	for _, c := range contacts {
		md := c.Metadata
		if md == nil {
			md = map[string]any{}
		}
		b, err := json.Marshal(md)
		if err != nil {
			return fmt.Errorf("encode metadata of contact %d: %w", c.Line, err)
		}
		status, nb := c.Status, c.NotBefore
		if status == "" {
			status = dialq.ContactPending
		}
		if nb.IsZero() {
			nb = now
		}
		if _, err := st.ExecContext(ctx, c.CampaignID, c.Line, c.ToNumber, string(b), c.Timezone, status, nb, now); err != nil {
			return fmt.Errorf("copy contact %d: %w", c.Line, err)
		}
		counts[c.CampaignID]++
	}
	if _, err := st.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy contacts: %w", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("copy contacts: %w", err)
	}
	for id, n := range counts {
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET contacts_total = contacts_total + $2 WHERE id = $1`, id, n); err != nil {
			return fmt.Errorf("count contacts of campaign %s: %w", id, err)
		}
	}
	return nil
}

// FindContact returns contact line of campaign id (the caller checked the
// campaign is the tenant's). Returns ENOTFOUND if there is none.
func (s *DB) FindContact(ctx context.Context, id uuid.UUID, line int64) (*dialq.Contact, error) {
	var r contactRow
	err := s.get(ctx, &r, `SELECT `+contactColumns+` FROM campaign_contacts WHERE campaign_id = $1 AND line = $2`, id, line)
	if err != nil {
		return nil, notFound(err, "Contact %d of campaign %s not found.", line, id)
	}
	return r.contact()
}

func (p *campaignPass) Ended(ctx context.Context, limit int) ([]dialq.ContactCall, error) {
	var rows []contactRow
	err := p.tx.SelectContext(ctx, &rows, `SELECT `+contactColumns+` FROM campaign_contacts cc
		WHERE campaign_id = $1 AND status = 'calling'
		  AND EXISTS (SELECT 1 FROM calls c WHERE c.id = cc.call_id AND c.ended_at IS NOT NULL `+notIn(nonTerminal())+`)
		ORDER BY line LIMIT $2`, p.c.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("list ended contacts of campaign %s: %w", p.c.ID, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].CallID.String()
	}
	var calls []callRow
	if err := p.tx.SelectContext(ctx, &calls, `SELECT `+callColumns+` FROM calls WHERE id = ANY($1::uuid[])`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("read ended calls of campaign %s: %w", p.c.ID, err)
	}
	byID := map[uuid.UUID]*dialq.Call{}
	for i := range calls {
		c, err := calls[i].call()
		if err != nil {
			// An unreadable row still has its status: the outcome is what counts.
			c = &calls[i].Call
		}
		byID[c.ID] = c
	}
	out := make([]dialq.ContactCall, 0, len(rows))
	for i := range rows {
		ct, err := rows[i].contact()
		if err != nil {
			return nil, err
		}
		if c := byID[*ct.CallID]; c != nil {
			out = append(out, dialq.ContactCall{Contact: *ct, Call: c})
		}
	}
	return out, nil
}

func nonTerminal() []dialq.CallStatus {
	var t []dialq.CallStatus
	for _, s := range dialq.Statuses() {
		if !s.Terminal() {
			t = append(t, s)
		}
	}
	return t
}

func (p *campaignPass) Calling(ctx context.Context) (int, error) {
	var n int
	if err := p.tx.GetContext(ctx, &n, `SELECT count(*) FROM campaign_contacts WHERE campaign_id = $1 AND status = 'calling'`, p.c.ID); err != nil {
		return 0, fmt.Errorf("count calling contacts of campaign %s: %w", p.c.ID, err)
	}
	return n, nil
}

func (p *campaignPass) Due(ctx context.Context, now time.Time, limit int) ([]dialq.Contact, error) {
	var rows []contactRow
	err := p.tx.SelectContext(ctx, &rows, `SELECT `+contactColumns+` FROM campaign_contacts
		WHERE campaign_id = $1 AND status = 'pending' AND not_before <= $2
		ORDER BY not_before, line LIMIT $3`, p.c.ID, now, limit)
	if err != nil {
		return nil, fmt.Errorf("list due contacts of campaign %s: %w", p.c.ID, err)
	}
	out := make([]dialq.Contact, 0, len(rows))
	for i := range rows {
		c, err := rows[i].contact()
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

func (p *campaignPass) Suppressed(ctx context.Context, numbers []string) (map[string]bool, error) {
	if len(numbers) == 0 {
		return nil, nil
	}
	var found []string
	err := p.tx.SelectContext(ctx, &found, `SELECT number FROM suppressions WHERE tenant_id = $1 AND number = ANY($2)`,
		p.c.TenantID, pq.Array(numbers))
	if err != nil {
		return nil, fmt.Errorf("look numbers up in the do-not-call list: %w", err)
	}
	out := make(map[string]bool, len(found))
	for _, n := range found {
		out[n] = true
	}
	return out, nil
}

func (p *campaignPass) Suppress(ctx context.Context, number, reason string) error {
	_, err := p.tx.ExecContext(ctx, `INSERT INTO suppressions (tenant_id, number, reason, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, number) DO NOTHING`, p.c.TenantID, number, reason, p.now())
	if err != nil {
		return fmt.Errorf("add %s to the do-not-call list: %w", number, err)
	}
	return nil
}

func (p *campaignPass) Move(ctx context.Context, line int64, status dialq.ContactStatus, outcome dialq.CallStatus, reason string, notBefore time.Time) error {
	_, err := p.tx.ExecContext(ctx, `UPDATE campaign_contacts SET status = $3, outcome = $4, reason = $5,
			not_before = CASE WHEN $3 = 'pending' THEN $6 ELSE not_before END, updated_at = $7
		WHERE campaign_id = $1 AND line = $2`, p.c.ID, line, status, outcome, reason, notBefore, p.now())
	if err != nil {
		return fmt.Errorf("move contact %d of campaign %s to %s: %w", line, p.c.ID, status, err)
	}
	return nil
}

func (p *campaignPass) MarkCalling(ctx context.Context, line int64, callID uuid.UUID, attempt int) error {
	_, err := p.tx.ExecContext(ctx, `UPDATE campaign_contacts SET status = 'calling', call_id = $3, attempts = $4,
			reason = '', updated_at = $5
		WHERE campaign_id = $1 AND line = $2`, p.c.ID, line, callID, attempt, p.now())
	if err != nil {
		return fmt.Errorf("mark contact %d of campaign %s calling: %w", line, p.c.ID, err)
	}
	return nil
}

func (p *campaignPass) Left(ctx context.Context) (pending, calling bool, err error) {
	var r struct {
		Pending bool `db:"pending"`
		Calling bool `db:"calling"`
	}
	err = p.tx.GetContext(ctx, &r, `SELECT
		EXISTS (SELECT 1 FROM campaign_contacts WHERE campaign_id = $1 AND status = 'pending') AS pending,
		EXISTS (SELECT 1 FROM campaign_contacts WHERE campaign_id = $1 AND status = 'calling') AS calling`, p.c.ID)
	if err != nil {
		return false, false, fmt.Errorf("look for contacts left in campaign %s: %w", p.c.ID, err)
	}
	return r.Pending, r.Calling, nil
}

// CampaignDialCheck reads what the check right before a campaign call's
// dial needs: its campaign, whether its number is now on the tenant's
// do-not-call list, and its contact. Returns ENOTFOUND if the campaign or
// the contact is gone.
func (s *DB) CampaignDialCheck(ctx context.Context, c *dialq.Call) (dialq.CampaignDialCheck, error) {
	var r struct {
		campaignRow
		Suppressed bool   `db:"suppressed"`
		Timezone   string `db:"timezone"`
		Calling    bool   `db:"calling"`
	}
	err := s.get(ctx, &r, `SELECT `+prefixed("cp.", campaignColumns)+`,
			EXISTS (SELECT 1 FROM suppressions su WHERE su.tenant_id = cp.tenant_id AND su.number = $3) AS suppressed,
			cc.timezone, (cc.status = 'calling' AND cc.call_id IS NOT DISTINCT FROM $4) AS calling
		FROM campaigns cp JOIN campaign_contacts cc ON cc.campaign_id = cp.id AND cc.line = $2
		WHERE cp.id = $1`, *c.CampaignID, *c.ContactLine, c.ToNumber, c.ID)
	if err != nil {
		return dialq.CampaignDialCheck{}, notFound(err, "Contact %d of campaign %s not found.", *c.ContactLine, *c.CampaignID)
	}
	cp, err := r.campaign()
	if err != nil {
		return dialq.CampaignDialCheck{}, err
	}
	return dialq.CampaignDialCheck{Campaign: cp, Suppressed: r.Suppressed, Timezone: r.Timezone, Calling: r.Calling}, nil
}

// HoldCampaignCall ends campaign call c, still queued, as canceled with
// h.Reason, never dialed, and moves its contact as h says in the same
// transaction: back to pending without counting the attempt (the call's
// idempotency key is released, so the attempt is placed again as a new
// call), or to canceled or suppressed. It reports false, changing nothing,
// when the call is not queued any more.
func (s *DB) HoldCampaignCall(ctx context.Context, c *dialq.Call, h dialq.CampaignHold) (bool, error) {
	now := s.now()
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var id uuid.UUID
	err = tx.GetContext(ctx, &id, `WITH u AS (
			UPDATE calls SET status = 'canceled', failure_reason = 'canceled', end_reason = $2, ended_by = 'dialq',
				ended_at = $3, last_error = $2, idempotency_key = NULL, updated_at = $3
			WHERE id = $1 AND status = 'queued' RETURNING id)
		INSERT INTO call_events (call_id, at, kind, detail, status, ignored)
		SELECT id, $3, 'canceled', 'not dialed: ' || $2, 'canceled', false FROM u RETURNING call_id`, c.ID, h.Reason, now)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hold campaign call %s: %w", c.ID, err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE campaign_contacts SET status = $4, reason = $5, updated_at = $6,
			not_before = CASE WHEN $4 = 'pending' THEN $7 ELSE not_before END,
			attempts = CASE WHEN $4 = 'pending' THEN greatest(attempts - 1, 0) ELSE attempts END,
			outcome = CASE WHEN $4 = 'pending' THEN outcome ELSE 'canceled' END
		WHERE campaign_id = $1 AND line = $2 AND status = 'calling' AND call_id = $3`,
		*c.CampaignID, *c.ContactLine, c.ID, h.Contact, h.Reason, now, h.NotBefore)
	if err != nil {
		return false, fmt.Errorf("move contact of held call %s: %w", c.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	if s.moves != nil {
		f := dialq.Failure{Reason: dialq.ReasonCanceled, Message: h.Reason}
		end := dialq.End{Status: dialq.StatusCanceled, By: dialq.EndedByDialq, Reason: h.Reason, Failure: &f}
		s.moves(dialq.CallMove{Service: c.Service, To: end.Status, End: &end})
	}
	return true, nil
}
