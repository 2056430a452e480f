package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// insertCallSQL stores a new call and the first event of its timeline,
// queued, in one statement: that event is what makes the call.queued
// webhook (migration 00008's trigger), so the two commit or roll back
// together. A repeat of an idempotent request inserts no row, and so no
// second event.
const insertCallSQL = `
WITH c AS (
	INSERT INTO calls (id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata,
	                   prompt, start_instruction, agent_name, livekit_trunk_id, status, created_at, updated_at,
	                   idempotency_key, request_hash, agent_join_timeout_ms, end_call_on_agent_leave, dial_options,
	                   campaign_id, contact_line, dial_by)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, NULLIF($14, ''), $15, $16, $17, $18, $19, $20, $21)
	ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
	RETURNING id, status, created_at, call_service, to_number
)
INSERT INTO call_events (call_id, at, kind, detail, status, ignored)
SELECT id, created_at, status, call_service || ' call to ' || to_number || ' accepted', status, false FROM c`

const callColumns = `id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata,
	prompt, start_instruction, agent_name, livekit_trunk_id, status, failure_reason,
	sip_status_code, sip_status, last_error, attempts, room_name, dispatch_id, dispatch_state,
	participant_sid, participant_identity, sip_call_id, end_reason, ended_by, hangup_reason, hangup_by, created_at, updated_at, dialed_at,
	answered_at, ended_at, agent_join_timeout_ms, report, end_call_on_agent_leave, agent_left_at, dial_options,
	campaign_id, contact_line, dial_by`

// callRow is a calls row as scanned; metadata is JSON in the table.
type callRow struct {
	dialq.Call
	MetadataJSON        []byte `db:"metadata"`
	AgentJoinTimeoutMS  int64  `db:"agent_join_timeout_ms"`
	ReportJSON          []byte `db:"report"`
	EndCallOnAgentLeave bool   `db:"end_call_on_agent_leave"`
	DialOptionsJSON     []byte `db:"dial_options"`
}

func (r *callRow) call() (*dialq.Call, error) {
	c := r.Call
	c.AgentJoinTimeout = time.Duration(r.AgentJoinTimeoutMS) * time.Millisecond
	c.KeepCallOnAgentLeave = !r.EndCallOnAgentLeave
	if r.ReportJSON != nil {
		c.Report = &dialq.Report{}
		if err := json.Unmarshal(r.ReportJSON, c.Report); err != nil {
			return nil, fmt.Errorf("decode report of call %s: %w", c.ID, err)
		}
	}
	if err := json.Unmarshal(r.DialOptionsJSON, &c.Options); err != nil {
		return nil, fmt.Errorf("decode dial options of call %s: %w: %w", c.ID, dialq.ErrUnreadableCall, err)
	}
	if err := json.Unmarshal(r.MetadataJSON, &c.Metadata); err != nil {
		return nil, fmt.Errorf("decode metadata of call %s: %w: %w", c.ID, dialq.ErrUnreadableCall, err)
	}
	return &c, nil
}

// CreateCall stores a new call, status queued, with its queued event (and
// so its call.queued webhooks), and returns it. When the tenant already
// has a call with c's IdempotencyKey it stores nothing and returns that
// call instead. Returns ECONFLICT if that call was made by a different
// request. The calls that come while a statement of others runs are
// inserted together, each as it would be alone (callbatch.go); once asked,
// it waits for its statement even if ctx ends, so that its answer says
// whether the call was stored.
func (s *DB) CreateCall(ctx context.Context, c *dialq.Call) (*dialq.Call, error) {
	md := c.Metadata
	if md == nil {
		md = map[string]any{}
	}
	mdJSON, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	optsJSON, err := json.Marshal(c.Options)
	if err != nil {
		return nil, fmt.Errorf("encode dial options: %w", err)
	}
	row := &newCallRow{id: c.ID, tenant: c.TenantID, assistant: c.AssistantID, trunk: c.TrunkID, to: c.ToNumber,
		service: string(c.Service), metadata: mdJSON, prompt: c.Prompt, start: c.StartInstruction, agent: c.AgentName,
		lkTrunk: c.LiveKitTrunkID, status: string(c.Status), createdAt: c.CreatedAt, idempotencyKey: c.IdempotencyKey,
		requestHash: c.RequestHash, joinMS: c.AgentJoinTimeout.Milliseconds(), endOnLeave: !c.KeepCallOnAgentLeave,
		options: optsJSON, campaignID: c.CampaignID, contactLine: c.ContactLine, dialBy: c.DialBy}
	inserted, err := s.calls.insert(ctx, row)
	if err != nil {
		return nil, fmt.Errorf("insert call: %w", err)
	}
	if inserted {
		if s.moves != nil {
			s.moves(dialq.CallMove{Service: c.Service, To: c.Status})
		}
		return c, nil
	}
	var r struct {
		callRow
		RequestHash []byte `db:"request_hash"`
	}
	err = s.db.GetContext(ctx, &r, `SELECT `+callColumns+`, request_hash FROM calls
		WHERE tenant_id = $1 AND idempotency_key = $2`, c.TenantID, c.IdempotencyKey)
	if err != nil {
		return nil, fmt.Errorf("find call of idempotency key: %w", err)
	}
	if !bytes.Equal(r.RequestHash, c.RequestHash) {
		return nil, dialq.Errorf(dialq.ECONFLICT,
			"Idempotency-Key %q was already used for a different request (call %s).", c.IdempotencyKey, r.ID)
	}
	return r.call()
}

// FindCall returns the tenant's call id.
// Returns ENOTFOUND if it does not exist or belongs to another tenant.
func (s *DB) FindCall(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Call, error) {
	var r callRow
	err := s.get(ctx, &r, `SELECT `+callColumns+` FROM calls WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return nil, notFound(err, "Call %s not found.", id)
	}
	return r.call()
}

// GetCall returns call id whatever its tenant, for the worker.
// Returns ENOTFOUND if it does not exist.
func (s *DB) GetCall(ctx context.Context, id uuid.UUID) (*dialq.Call, error) {
	var r callRow
	err := s.get(ctx, &r, `SELECT `+callColumns+` FROM calls WHERE id = $1`, id)
	if err != nil {
		return nil, notFound(err, "Call %s not found.", id)
	}
	return r.call()
}

// StartAttempt counts one more run of the dial task and returns the call as
// it is now. Returns ENOTFOUND if the call does not exist.
func (s *DB) StartAttempt(ctx context.Context, id uuid.UUID) (*dialq.Call, error) {
	var r callRow
	err := s.get(ctx, &r, `
		WITH u AS (
			UPDATE calls SET attempts = attempts + 1, updated_at = $2
			WHERE id = $1 RETURNING `+callColumns+`
		), e AS (
			INSERT INTO call_events (call_id, at, kind, detail)
			SELECT id, $2, 'attempt', 'attempt ' || attempts FROM u
		)
		SELECT * FROM u`, id, s.now())
	if err != nil {
		return nil, notFound(err, "Call %s not found.", id)
	}
	return r.call()
}

// record runs an UPDATE of one call guarded by its WHERE clause and appends
// an event to the call's timeline in the same statement: the step, when it
// changed the row (with status, the status it moved the call to, or ”),
// and otherwise the same event marked ignored, so a late or repeated event
// is seen in the timeline and changes nothing. It reports whether the row
// changed. args[0] is the call's id: in set and guard it is $1, args[1:] are
// $5 on, and $4 is the store's now, which updated_at and the event's at take.
func (s *DB) record(ctx context.Context, status dialq.CallStatus, kind, detail, set, guard string, args ...any) (bool, error) {
	ok, _, err := s.recordMove(ctx, status, kind, detail, set, guard, args...)
	return ok, err
}

// moved is what recordMove read of the row it changed.
type moved struct {
	Ignored bool            `db:"ignored"`
	Service string          `db:"call_service"`
	Answer  sql.NullFloat64 `db:"answer_s"`
}

// recordMove is record, also returning what the change's CallMove needs.
func (s *DB) recordMove(ctx context.Context, status dialq.CallStatus, kind, detail, set, guard string, args ...any) (bool, moved, error) {
	q := `WITH u AS (UPDATE calls SET ` + set + `, updated_at = $4 WHERE id = $1 ` + guard + `
			RETURNING id, call_service, extract(epoch FROM answered_at - dialed_at)::float8 AS answer_s),
		e AS (
			INSERT INTO call_events (call_id, at, kind, detail, status, ignored)
			SELECT id, $4, $2, $3, '` + string(status) + `', false FROM u
			UNION ALL
			SELECT id, $4, $2, $3 || ' (ignored: the call is ' || status || ')', '', true FROM calls
			WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM u)
			RETURNING ignored)
		SELECT e.ignored, coalesce((SELECT call_service FROM u), '') AS call_service,
			(SELECT answer_s FROM u) AS answer_s FROM e`
	var m moved
	err := s.get(ctx, &m, q, append([]any{args[0], kind, detail, s.now()}, args[1:]...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, m, nil // no such call
	}
	if err != nil {
		return false, m, fmt.Errorf("record %s: %w", kind, err)
	}
	return !m.Ignored, m, nil
}

// step records a change of a live call that is not a change of its status.
func (s *DB) step(ctx context.Context, kind, detail, set string, args ...any) (bool, error) {
	return s.record(ctx, "", kind, detail, set, live, args...)
}

// move records a change of call id's status to `to`, which the state
// machine must allow from the status the row has (dialq.From): set is the
// rest of the change. It reports false, and records the event as ignored,
// when it does not.
func (s *DB) move(ctx context.Context, to dialq.CallStatus, kind, detail, set string, args ...any) (bool, error) {
	return s.moveEnd(ctx, to, nil, kind, detail, set, args...)
}

// moveEnd is move for a change that ends the call as end says (nil for a
// live status), told to the store's CallMoves when it happened.
func (s *DB) moveEnd(ctx context.Context, to dialq.CallStatus, end *dialq.End, kind, detail, set string, args ...any) (bool, error) {
	ok, m, err := s.recordMove(ctx, to, kind, detail, `status = '`+string(to)+`', `+set, fromGuard(to), args...)
	if ok && s.moves != nil {
		cm := dialq.CallMove{Service: dialq.CallService(m.Service), To: to, End: end}
		if to == dialq.StatusAnswered && m.Answer.Valid && m.Answer.Float64 >= 0 {
			cm.Answer = time.Duration(m.Answer.Float64 * float64(time.Second))
		}
		s.moves(cm)
	}
	return ok, err
}

// fromGuard is the WHERE clause that lets a call move to status to only
// from the statuses the state machine allows.
func fromGuard(to dialq.CallStatus) string {
	from := dialq.From(to)
	if len(from) == 0 {
		panic("postgres: no status may move to " + string(to))
	}
	q := make([]string, len(from))
	for i, f := range from {
		q[i] = "'" + string(f) + "'"
	}
	return `AND status IN (` + strings.Join(q, ", ") + `)`
}

// live is the guard of a step of a call not over yet.
var live = notIn(terminal())

func terminal() []dialq.CallStatus {
	var t []dialq.CallStatus
	for _, s := range dialq.Statuses() {
		if s.Terminal() {
			t = append(t, s)
		}
	}
	return t
}

func notIn(ss []dialq.CallStatus) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + string(s) + "'"
	}
	return `AND status NOT IN (` + strings.Join(q, ", ") + `)`
}

// RecordRoom stores the call's LiveKit room.
func (s *DB) RecordRoom(ctx context.Context, id uuid.UUID, room string) error {
	_, err := s.record(ctx, "", "room_created", room, `room_name = $5`, notDialedYet, id, room)
	return err
}

// RecordDispatch stores the agent dispatch made into the call's room.
func (s *DB) RecordDispatch(ctx context.Context, id uuid.UUID, dispatchID, state string) error {
	_, err := s.record(ctx, "", "agent_dispatched", dispatchID,
		`dispatch_id = $5, dispatch_state = $6`, notDialedYet, id, dispatchID, state)
	return err
}

// RecordAgentJoined records that the dispatched agent joined the call's
// room as identity, after waiting took: its dispatch is running.
func (s *DB) RecordAgentJoined(ctx context.Context, id uuid.UUID, identity string, waited time.Duration) error {
	_, err := s.record(ctx, "", "agent_joined", fmt.Sprintf("%s joined after %s", identity, waited.Round(time.Millisecond)),
		`dispatch_state = $5`, notDialedYet, id, dialq.DispatchRunning)
	return err
}

// RecordReport stores r as the call's report, in place of any earlier one,
// whatever the call's status: agents report once the call is over. The
// timeline's event says who answered and the disposition.
func (s *DB) RecordReport(ctx context.Context, id uuid.UUID, r dialq.Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	detail := strings.TrimSpace(fmt.Sprintf("answered_by=%s disposition=%s", r.AnsweredBy, r.Disposition))
	if _, err := s.record(ctx, "", "report", detail, `report = $5`, "", id, b); err != nil {
		return err
	}
	return nil
}

// notDialedYet keeps the dial task's steps off a call whose outcome is
// already stored.
const notDialedYet = `AND status IN ('queued', 'dialing', 'ringing')`

// MarkDialing records that the phone is about to be dialed, before the dial
// request goes out: a retry that finds this status checks the room for the
// phone before it dials again.
func (s *DB) MarkDialing(ctx context.Context, id uuid.UUID, identity string, at time.Time) error {
	_, err := s.move(ctx, dialq.StatusDialing, "dialing", identity,
		`participant_identity = $5, dialed_at = coalesce(dialed_at, $6)`, id, identity, at)
	return err
}

// RecordAnswered stores the phone participant of an answered call.
// It reports false when the call already had an outcome.
func (s *DB) RecordAnswered(ctx context.Context, id uuid.UUID, p dialq.Participant, at time.Time) (bool, error) {
	return s.move(ctx, dialq.StatusAnswered, "answered", p.SID,
		`participant_sid = $5, participant_identity = $6, sip_call_id = $7,
		 sip_status_code = 200, sip_status = 'OK', answered_at = $8, last_error = ''`,
		id, p.SID, p.Identity, p.SIPCallID, at)
}

// RecordEnded moves the call to its terminal status e.Status: who ended it,
// how, when, and for every end but completed, the failure. It reports false,
// and records the event as ignored, when the call is over already or cannot
// end that way from where it is (an unanswered call does not complete).
func (s *DB) RecordEnded(ctx context.Context, id uuid.UUID, e dialq.End, at time.Time) (bool, error) {
	if !e.Status.Terminal() {
		return false, fmt.Errorf("record end of call %s: %s is not a terminal status", id, e.Status)
	}
	f := dialq.Failure{}
	if e.Failure != nil {
		f = *e.Failure
	}
	detail := e.Reason
	if e.Failure != nil {
		detail = string(f.Reason) + ": " + f.Message
	}
	set := `end_reason = $5, ended_by = $6, ended_at = $7`
	args := []any{id, e.Reason, e.By, at}
	if e.Failure != nil {
		set += `, failure_reason = $8, sip_status_code = CASE WHEN $9 > 0 THEN $9 ELSE sip_status_code END,
			sip_status = CASE WHEN $9 > 0 THEN $10 ELSE sip_status END, last_error = $11`
		args = append(args, f.Reason, f.SIPCode, f.SIPStatus, f.Message)
	}
	return s.moveEnd(ctx, e.Status, &e, string(e.Status), detail, set, args...)
}

// RecordFailed ends a call by failure f (dialq.Failed: busy, no_answer, ...,
// or failed). It reports false when the call already had an outcome.
func (s *DB) RecordFailed(ctx context.Context, id uuid.UUID, f dialq.Failure, at time.Time) (bool, error) {
	return s.RecordEnded(ctx, id, dialq.Failed(f), at)
}

// HangupReason returns the hang-up asked for call id ("" for none).
func (s *DB) HangupReason(ctx context.Context, id uuid.UUID) (string, error) {
	var reason string
	if err := s.get(ctx, &reason, `SELECT hangup_reason FROM calls WHERE id = $1`, id); err != nil {
		return "", notFound(err, "Call %s not found.", id)
	}
	return reason, nil
}

// RecordEvent appends an event (the phone or the agent left, ...) to a
// call's timeline without changing the call.
func (s *DB) RecordEvent(ctx context.Context, id uuid.UUID, kind, detail string) error {
	_, err := s.step(ctx, kind, detail, `status = status`, id)
	return err
}

// RecordAgentLeft records that an agent left the live call's room at at:
// the event agent_left (detail says who and how), and the time the no-agent
// watchdog counts its grace from. It changes no status: whether the call
// ends is the caller's to decide (see dialq.Call.KeepCallOnAgentLeave).
func (s *DB) RecordAgentLeft(ctx context.Context, id uuid.UUID, detail string, at time.Time) error {
	_, err := s.step(ctx, "agent_left", detail, `agent_left_at = $5`, id, at)
	return err
}

// RecordAttemptError stores why an attempt failed when the task will retry.
func (s *DB) RecordAttemptError(ctx context.Context, id uuid.UUID, msg string) error {
	_, err := s.record(ctx, "", "attempt_failed", msg, `last_error = $5`, notDialedYet, id, msg)
	return err
}

// RecordThrottled adds a throttled event to the timeline of a queued call
// its limits hold back (detail says which and why), the first time only:
// the dial task asks again every second or so, and the timeline says once
// why the call waits. It changes nothing else, and nothing of a call no
// longer queued.
func (s *DB) RecordThrottled(ctx context.Context, id uuid.UUID, detail string) error {
	_, err := s.exec(ctx, `
		INSERT INTO call_events (call_id, at, kind, detail, status, ignored)
		SELECT id, $2, 'throttled', $3, '', false FROM calls
		WHERE id = $1 AND status = 'queued'
		  AND NOT EXISTS (SELECT 1 FROM call_events WHERE call_id = $1 AND kind = 'throttled')`, id, s.now(), detail)
	if err != nil {
		return fmt.Errorf("record throttled: %w", err)
	}
	return nil
}

// Events returns the call's timeline, oldest first.
func (s *DB) Events(ctx context.Context, id uuid.UUID) ([]dialq.CallEvent, error) {
	return s.EventsAfter(ctx, id, 0)
}

// EventsAfter returns the events of the call's timeline recorded after the
// event after (its ID; 0 for all), oldest first.
func (s *DB) EventsAfter(ctx context.Context, id uuid.UUID, after int64) ([]dialq.CallEvent, error) {
	var ev []dialq.CallEvent
	err := s.db.SelectContext(ctx, &ev,
		`SELECT id, at, kind, detail, status, ignored FROM call_events WHERE call_id = $1 AND id > $2 ORDER BY id`, id, after)
	if err != nil {
		return nil, fmt.Errorf("list events of call %s: %w", id, err)
	}
	return ev, nil
}

// QueuedBefore returns up to limit calls still queued that were created
// before t: calls whose enqueue may have been lost.
func (s *DB) QueuedBefore(ctx context.Context, t time.Time, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.db.SelectContext(ctx, &ids,
		`SELECT id FROM calls WHERE status = 'queued' AND created_at < $1 ORDER BY created_at LIMIT $2`, t, limit)
	if err != nil {
		return nil, fmt.Errorf("list queued calls: %w", err)
	}
	return ids, nil
}

// RecordDialNotPlaced puts a call whose dial request never reached the phone
// (the SIP service was unavailable) back to queued, so the retry dials again.
func (s *DB) RecordDialNotPlaced(ctx context.Context, id uuid.UUID, msg string) error {
	_, err := s.move(ctx, dialq.StatusQueued, "dial_not_placed", msg, `last_error = $5`, id, msg)
	return err
}

// ListCalls returns up to f.Limit of the tenant's calls that match f, newest
// first; f must be validated (dialq.CallFilter.Validate). The order is
// (created_at, id) descending, which the cursor continues exactly.
func (s *DB) ListCalls(ctx context.Context, tenantID uuid.UUID, f dialq.CallFilter) ([]*dialq.Call, error) {
	q, args := ListCallsSQL(tenantID, f)
	var rows []callRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	out := make([]*dialq.Call, 0, len(rows))
	for i := range rows {
		c, err := rows[i].call()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ListCallsSQL is the statement ListCalls runs for f, and its arguments:
// what a benchmark EXPLAINs.
func ListCallsSQL(tenantID uuid.UUID, f dialq.CallFilter) (string, []any) {
	q := `SELECT ` + callColumns + ` FROM calls WHERE tenant_id = $1`
	args := []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		q += ` AND status = ` + arg(f.Status)
	}
	if f.ToNumber != "" {
		q += ` AND to_number = ` + arg(f.ToNumber)
	}
	if f.AssistantID != uuid.Nil {
		q += ` AND assistant_id = ` + arg(f.AssistantID)
	}
	if f.CampaignID != uuid.Nil {
		q += ` AND campaign_id = ` + arg(f.CampaignID)
	}
	if !f.CreatedFrom.IsZero() {
		q += ` AND created_at >= ` + arg(f.CreatedFrom)
	}
	if !f.CreatedTo.IsZero() {
		q += ` AND created_at < ` + arg(f.CreatedTo)
	}
	if at, id, ok := f.Cursor(); ok {
		q += ` AND (created_at, id) < (` + arg(at) + `, ` + arg(id) + `)`
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(f.Limit)
	return q, args
}

// ClaimLiveLiveKitCalls returns up to limit live LiveKit SIP calls (twilio)
// not checked since before, least recently checked first, and marks them
// checked now. Rows another worker is claiming are skipped, so several
// workers check different calls.
func (s *DB) ClaimLiveLiveKitCalls(ctx context.Context, before time.Time, limit int) ([]*dialq.Call, error) {
	var rows []callRow
	err := s.db.SelectContext(ctx, &rows, `
		UPDATE calls SET checked_at = $3 WHERE id IN (
			SELECT id FROM calls
			WHERE call_service = 'twilio' AND status IN ('dialing', 'ringing', 'answered')
			  AND (checked_at IS NULL OR checked_at < $1)
			ORDER BY checked_at NULLS FIRST LIMIT $2
			FOR UPDATE SKIP LOCKED)
		RETURNING `+callColumns, before, limit, s.now())
	if err != nil {
		return nil, fmt.Errorf("claim live LiveKit calls: %w", err)
	}
	out := make([]*dialq.Call, 0, len(rows))
	for i := range rows {
		c, err := rows[i].call()
		if err != nil {
			continue // the sweeper and the dial task fail unreadable rows
		}
		out = append(out, c)
	}
	return out, nil
}
