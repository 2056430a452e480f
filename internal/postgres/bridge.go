package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

// bridgedLive is the guard of a bridged call whose session still runs.
const bridgedLive = `AND status IN ('dialing', 'ringing', 'answered')`

// RecordInviteSent stores that the bridge's INVITE for call id is out, with
// its SIP Call-ID and the worker that holds the session. From here the call
// is the worker's to finish, and the worker vouches for it (TouchBridged).
func (s *DB) RecordInviteSent(ctx context.Context, id uuid.UUID, worker, sipCallID string) error {
	_, err := s.record(ctx, "", "invite_sent", sipCallID,
		`sip_call_id = $5, bridge_worker = $6, bridge_seen_at = $4`, `AND status = 'dialing'`, id, sipCallID, worker)
	return err
}

// RecordRinging stores that the phone rings (SIP 180 or 183).
func (s *DB) RecordRinging(ctx context.Context, id uuid.UUID, code int, reason string) error {
	_, err := s.move(ctx, dialq.StatusRinging, "ringing", strconv.Itoa(code)+" "+reason, `sip_status_code = sip_status_code`, id)
	return err
}

// RecordBridgeEvent appends an event (hold, resume, DTMF, ...) to a live
// bridged call's timeline.
func (s *DB) RecordBridgeEvent(ctx context.Context, id uuid.UUID, kind, detail string) error {
	_, err := s.record(ctx, "", kind, detail, `status = status`, bridgedLive, id)
	return err
}

// RequestHangup stores that the live call id is to be hung up, in the name
// of by, for reason, and notes it on the call's timeline
// (hangup_requested). It is stored before the phone is removed, so that
// whoever finds the phone gone (its participant_left, the reconciler)
// records this end, not the phone's. The worker holding a bridged call
// finds it on its next TouchBridged, should the request published to it get
// lost. It reports false when the call is not live any more; asking again
// for a call already asked keeps the first request's time, reason and by.
func (s *DB) RequestHangup(ctx context.Context, id uuid.UUID, by dialq.EndedBy, reason string) (bool, error) {
	return s.record(ctx, "", "hangup_requested", reason,
		`hangup_reason = CASE WHEN hangup_reason = '' THEN $5 ELSE hangup_reason END,
		 hangup_by = CASE WHEN hangup_reason = '' THEN $6 ELSE hangup_by END,
		 hangup_requested_at = coalesce(hangup_requested_at, $4)`, bridgedLive, id, reason, string(by))
}

// TouchBridged renews worker's claim on the live bridged calls ids, the ones
// it holds in memory. It returns how many rows it touched, and the hang-ups
// requested for them (RequestHangup): call id → reason. A row of worker's
// that is not among ids (its session ended but the end could not be
// recorded) is left to go stale and be closed as lost.
func (s *DB) TouchBridged(ctx context.Context, worker string, ids []uuid.UUID) (int64, map[uuid.UUID]string, error) {
	if len(ids) == 0 {
		return 0, nil, nil
	}
	texts := make([]string, len(ids))
	for i, id := range ids {
		texts[i] = id.String()
	}
	var rows []struct {
		ID     uuid.UUID `db:"id"`
		Reason string    `db:"hangup_reason"`
	}
	err := s.db.SelectContext(ctx, &rows, `UPDATE calls SET bridge_seen_at = $3
		WHERE bridge_worker = $1 AND id = ANY($2::uuid[]) AND status IN ('dialing', 'ringing', 'answered')
		RETURNING id, hangup_reason`, worker, pq.Array(texts), s.now())
	if err != nil {
		return 0, nil, fmt.Errorf("touch bridged calls of %s: %w", worker, err)
	}
	var hangups map[uuid.UUID]string
	for _, r := range rows {
		if r.Reason != "" {
			if hangups == nil {
				hangups = map[uuid.UUID]string{}
			}
			hangups[r.ID] = r.Reason
		}
	}
	return int64(len(rows)), hangups, nil
}

// CloseOrphanedBridged fails the live bridged calls no worker has vouched
// for since before staleBefore: their worker died with them. It returns
// their ids.
func (s *DB) CloseOrphanedBridged(ctx context.Context, staleBefore time.Time) ([]uuid.UUID, error) {
	const msg = "the worker holding the call's SIP session stopped vouching for it; it was closed as lost"
	var rows []struct {
		ID      uuid.UUID         `db:"id"`
		Service dialq.CallService `db:"call_service"`
	}
	err := s.db.SelectContext(ctx, &rows, `
		WITH u AS (
			UPDATE calls SET status = 'failed', failure_reason = 'worker_lost', last_error = $2,
				end_reason = $2, ended_by = 'dialq', ended_at = $3, updated_at = $3
			WHERE bridge_worker <> '' AND status IN ('dialing', 'ringing', 'answered') AND bridge_seen_at < $1
			RETURNING id, bridge_worker, call_service
		), e AS (
			INSERT INTO call_events (call_id, at, kind, detail, status)
			SELECT id, $3, 'failed', 'worker_lost: worker ' || bridge_worker || ' went silent', 'failed' FROM u
		)
		SELECT id, call_service FROM u`, staleBefore, msg, s.now())
	if err != nil {
		return nil, fmt.Errorf("close orphaned bridged calls: %w", err)
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
		if s.moves != nil {
			end := dialq.Failed(dialq.Failure{Reason: dialq.ReasonWorkerLost, Message: msg})
			end.By = dialq.EndedByDialq
			s.moves(dialq.CallMove{Service: r.Service, To: end.Status, End: &end})
		}
	}
	return ids, nil
}
