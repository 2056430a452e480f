package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

// SaveTenant stores t, or updates the tenant of that id: its name and its
// call limits. Returns EINVALID for a bad limit.
func (s *DB) SaveTenant(ctx context.Context, t *dialq.Tenant) error {
	if err := t.CallLimits.Validate(""); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO tenants (id, name, created_at, max_concurrent_calls, calls_per_second) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
			max_concurrent_calls = EXCLUDED.max_concurrent_calls, calls_per_second = EXCLUDED.calls_per_second`,
		t.ID, t.Name, s.now(), t.MaxConcurrentCalls, t.CallsPerSecond)
	if err != nil {
		return fmt.Errorf("insert tenant: %w", err)
	}
	return nil
}

// FindTenant returns tenant id.
// Returns ENOTFOUND if it does not exist.
func (s *DB) FindTenant(ctx context.Context, id uuid.UUID) (*dialq.Tenant, error) {
	var t dialq.Tenant
	err := s.get(ctx, &t, `SELECT id, name, max_concurrent_calls, calls_per_second FROM tenants WHERE id = $1`, id)
	if err != nil {
		return nil, notFound(err, "Tenant %s not found.", id)
	}
	return &t, nil
}

// SetTenantLimits sets the call limits of tenant id, leaving the rest of it.
// Returns ENOTFOUND if it does not exist, EINVALID for a bad limit.
func (s *DB) SetTenantLimits(ctx context.Context, id uuid.UUID, l dialq.CallLimits) error {
	if err := l.Validate(""); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tenants SET max_concurrent_calls = $2, calls_per_second = $3 WHERE id = $1`,
		id, l.MaxConcurrentCalls, l.CallsPerSecond)
	if err != nil {
		return fmt.Errorf("set limits of tenant %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return dialq.Errorf(dialq.ENOTFOUND, "Tenant %s not found.", id)
	}
	return nil
}

// CreateAPIKey stores k (its hash only).
func (s *DB) CreateAPIKey(ctx context.Context, k dialq.APIKey, name string) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO api_keys (id, tenant_id, key_hash, name, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.TenantID, k.Hash, name, s.now())
	if err != nil {
		return fmt.Errorf("insert api key: %w", err)
	}
	return nil
}

// RevokeAPIKey stops key id from authenticating.
func (s *DB) RevokeAPIKey(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, id, s.now())
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	return nil
}

// FindAPIKey returns the live key with public id id.
// Returns ENOTFOUND if there is none or it was revoked.
func (s *DB) FindAPIKey(ctx context.Context, id string) (dialq.APIKey, error) {
	var k dialq.APIKey
	err := s.get(ctx, &k,
		`SELECT id, tenant_id, key_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return k, notFound(err, "API key not found")
	}
	return k, nil
}

// SaveAssistant stores a, or updates the tenant's assistant of that id.
// Returns ECONFLICT if the id belongs to another tenant.
func (s *DB) SaveAssistant(ctx context.Context, a *dialq.Assistant) error {
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO assistants (id, tenant_id, name, prompt, start_instruction, agent_name, created_at, updated_at,
			wait_for_agent, agent_join_timeout_ms, end_call_on_agent_leave)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, prompt = EXCLUDED.prompt,
			start_instruction = EXCLUDED.start_instruction, agent_name = EXCLUDED.agent_name, updated_at = EXCLUDED.updated_at,
			wait_for_agent = EXCLUDED.wait_for_agent, agent_join_timeout_ms = EXCLUDED.agent_join_timeout_ms,
			end_call_on_agent_leave = EXCLUDED.end_call_on_agent_leave
		WHERE assistants.tenant_id = EXCLUDED.tenant_id`,
		a.ID, a.TenantID, a.Name, a.Prompt, a.StartInstruction, a.AgentName, s.now(),
		!a.DialWithoutAgent, joinTimeoutMS(a), !a.KeepCallOnAgentLeave)
	return saved(res, err, "assistant", a.ID.String())
}

// FindAssistant returns the tenant's assistant id.
// Returns ENOTFOUND if it does not exist or belongs to another tenant.
func (s *DB) FindAssistant(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Assistant, error) {
	var a struct {
		dialq.Assistant
		JoinTimeoutMS int64 `db:"agent_join_timeout_ms"`
	}
	err := s.get(ctx, &a, `
		SELECT id, tenant_id, name, prompt, start_instruction, agent_name, created_at, updated_at,
			NOT wait_for_agent AS dial_without_agent, agent_join_timeout_ms,
			NOT end_call_on_agent_leave AS keep_call_on_agent_leave
		FROM assistants WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return nil, notFound(err, "Assistant %s not found.", id)
	}
	a.AgentJoinTimeout = time.Duration(a.JoinTimeoutMS) * time.Millisecond
	return &a.Assistant, nil
}

// joinTimeoutMS is the assistant's agent join timeout as stored: the
// default when it has none, even when it dials without waiting, so turning
// the wait back on waits as long as it used to.
func joinTimeoutMS(a *dialq.Assistant) int64 {
	t := a.AgentJoinTimeout
	if t <= 0 {
		t = dialq.DefaultAgentJoinTimeout
	}
	return max(t.Milliseconds(), 1)
}

// SaveTrunk stores t, or updates the tenant's trunk of that id. The SIP
// settings of a trunk dialq's bridge dials (exotel) are normalized for its
// provider's SIPProfile and their password sealed; its numbers are put in
// the form calls name them in (trunkNumbers).
// Returns ECONFLICT if the id belongs to another tenant, EINVALID for bad
// SIP settings, a bad number, SIP settings on a provider the bridge does
// not dial, or a bad call limit.
func (s *DB) SaveTrunk(ctx context.Context, t *dialq.Trunk) error {
	var cfg, pass []byte
	if err := t.CallLimits.Validate(""); err != nil {
		return err
	}
	numbers, err := trunkNumbers(t)
	if err != nil {
		return err
	}
	if t.SIP != nil {
		profile, ok := dialq.SIPProfileFor(t.Provider)
		if !ok {
			return dialq.Errorf(dialq.EINVALID, "A %s trunk takes no SIP settings: dialq's SIP bridge does not dial it.", t.Provider)
		}
		if err := t.SIP.Normalize(profile); err != nil {
			return err
		}
		if t.SIP.Password != "" {
			if s.secrets == nil {
				return fmt.Errorf("save trunk %s: no secret key configured (DIALQ_SECRET_KEY) to seal its SIP password", t.ID)
			}
			pass = s.secrets.Seal(t.SIP.Password)
		}
		if cfg, err = json.Marshal(t.SIP); err != nil {
			return fmt.Errorf("encode sip config: %w", err)
		}
	}
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO trunks (id, tenant_id, name, provider, livekit_trunk_id, sip_config, sip_password_enc, numbers, created_at,
			max_concurrent_calls, calls_per_second)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, provider = EXCLUDED.provider,
			livekit_trunk_id = EXCLUDED.livekit_trunk_id, sip_config = EXCLUDED.sip_config,
			sip_password_enc = EXCLUDED.sip_password_enc, numbers = EXCLUDED.numbers,
			max_concurrent_calls = EXCLUDED.max_concurrent_calls, calls_per_second = EXCLUDED.calls_per_second
		WHERE trunks.tenant_id = EXCLUDED.tenant_id`,
		t.ID, t.TenantID, t.Name, t.Provider, t.LiveKitTrunkID, cfg, pass, pq.Array(numbers), s.now(),
		t.MaxConcurrentCalls, t.CallsPerSecond)
	return saved(res, err, "trunk", t.ID)
}

// trunkNumbers is t's numbers as stored: each in the form a call's
// caller_id is compared in (E.164, or the bridge carrier's form), without
// repeats, and for a bridge trunk its own caller ID first. Returns EINVALID
// naming numbers for one that is not a number.
func trunkNumbers(t *dialq.Trunk) ([]string, error) {
	out := []string{}
	add := func(n string) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	profile, bridged := dialq.SIPProfileFor(t.Provider)
	if t.SIP != nil && bridged {
		if n, ok := profile.CallerID(t.SIP.CallerID); ok {
			add(n)
		}
	}
	for i, n := range t.Numbers {
		field := fmt.Sprintf("numbers[%d]", i)
		if bridged {
			norm, ok := profile.CallerID(n)
			if !ok {
				return nil, dialq.InvalidField(field, "%s", profile.CallerIDRule)
			}
			add(norm)
			continue
		}
		if err := dialq.CheckE164(field, n); err != nil {
			return nil, err
		}
		add(n)
	}
	return out, nil
}

// SIPTrunkConfig returns the SIP settings of trunk id with its password
// opened, for the worker whose bridge dials it.
// Returns ENOTFOUND if the trunk does not exist or has no SIP settings.
func (s *DB) SIPTrunkConfig(ctx context.Context, id string) (*dialq.SIPTrunkConfig, error) {
	var row struct {
		Config []byte `db:"sip_config"`
		Pass   []byte `db:"sip_password_enc"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT sip_config, sip_password_enc FROM trunks WHERE id = $1`, id)
	if err != nil {
		return nil, notFound(err, "Trunk %s not found.", id)
	}
	if row.Config == nil {
		return nil, dialq.Errorf(dialq.ENOTFOUND, "Trunk %s has no SIP configuration.", id)
	}
	var c dialq.SIPTrunkConfig
	if err := json.Unmarshal(row.Config, &c); err != nil {
		return nil, fmt.Errorf("decode sip config of trunk %s: %w", id, err)
	}
	if len(row.Pass) > 0 {
		if s.secrets == nil {
			return nil, fmt.Errorf("trunk %s: no secret key configured (DIALQ_SECRET_KEY) to open its SIP password", id)
		}
		if c.Password, err = s.secrets.Open(row.Pass); err != nil {
			return nil, fmt.Errorf("trunk %s: %w", id, err)
		}
	}
	return &c, nil
}

// DeleteTrunk removes the tenant's trunk id; calls made through it keep
// their copy of what they need.
func (s *DB) DeleteTrunk(ctx context.Context, tenantID uuid.UUID, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM trunks WHERE id = $1 AND tenant_id = $2`, id, tenantID); err != nil {
		return fmt.Errorf("delete trunk %s: %w", id, err)
	}
	return nil
}

// TrunksOf lists the tenant's trunks.
func (s *DB) TrunksOf(ctx context.Context, tenantID uuid.UUID) ([]dialq.Trunk, error) {
	var rows []trunkRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT `+trunkColumns+` FROM trunks WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list trunks: %w", err)
	}
	ts := make([]dialq.Trunk, len(rows))
	for i := range rows {
		ts[i] = rows[i].trunk()
	}
	return ts, nil
}

// FindTrunk returns the tenant's trunk id.
// Returns ENOTFOUND if it does not exist or belongs to another tenant.
func (s *DB) FindTrunk(ctx context.Context, tenantID uuid.UUID, id string) (*dialq.Trunk, error) {
	var r trunkRow
	err := s.get(ctx, &r, `
		SELECT `+trunkColumns+` FROM trunks WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return nil, notFound(err, "Trunk %s not found.", id)
	}
	t := r.trunk()
	return &t, nil
}

const trunkColumns = `id, tenant_id, name, provider, livekit_trunk_id, numbers, created_at, max_concurrent_calls, calls_per_second`

// trunkRow is a trunks row as scanned, without its SIP settings.
type trunkRow struct {
	dialq.Trunk
	Numbers pq.StringArray `db:"numbers"`
}

func (r *trunkRow) trunk() dialq.Trunk {
	t := r.Trunk
	t.Numbers = []string(r.Numbers)
	return t
}

// saved checks the result of an upsert guarded by tenant: no row means the
// id exists under another tenant.
func saved(res sql.Result, err error, what, id string) error {
	if err != nil {
		return fmt.Errorf("save %s %s: %w", what, id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return dialq.Errorf(dialq.ECONFLICT, "%s %s belongs to another tenant", what, id)
	}
	return nil
}
