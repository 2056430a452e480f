-- +goose Up
-- One state machine for both paths (docs/call-lifecycle.md): the callee's
-- answers get statuses of their own instead of failed + a reason, an API
-- hang-up before the answer is canceled, and every terminal call says who
-- ended it.
ALTER TABLE calls DROP CONSTRAINT calls_status_check;
ALTER TABLE calls ADD CONSTRAINT calls_status_check
    CHECK (status IN ('queued', 'dialing', 'ringing', 'answered',
                      'completed', 'busy', 'no_answer', 'rejected', 'unreachable', 'failed', 'canceled'));
ALTER TABLE calls ADD COLUMN ended_by text NOT NULL DEFAULT ''
    CHECK (ended_by IN ('', 'phone', 'agent', 'api', 'dialq'));

UPDATE calls SET status = failure_reason
    WHERE status = 'failed' AND failure_reason IN ('busy', 'no_answer', 'rejected', 'unreachable');
UPDATE calls SET ended_by = CASE
        WHEN status IN ('busy', 'no_answer', 'rejected', 'unreachable') THEN 'phone'
        WHEN status = 'failed' AND failure_reason = 'carrier_error' THEN 'phone'
        WHEN status = 'completed' AND end_reason = 'hung up by API' THEN 'api'
        WHEN status = 'completed' AND end_reason = 'phone hung up' THEN 'phone'
        ELSE 'dialq' END,
    end_reason = CASE WHEN end_reason = '' THEN last_error ELSE end_reason END
    WHERE status IN ('completed', 'busy', 'no_answer', 'rejected', 'unreachable', 'failed');

-- The timeline says which events moved the call (status: the status it
-- moved to) and which came too late or twice and changed nothing (ignored).
ALTER TABLE call_events ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT '';
ALTER TABLE call_events ADD COLUMN ignored boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE call_events DROP COLUMN ignored;
ALTER TABLE call_events DROP COLUMN status;
UPDATE calls SET status = 'failed' WHERE status IN ('busy', 'no_answer', 'rejected', 'unreachable', 'canceled');
ALTER TABLE calls DROP COLUMN ended_by;
ALTER TABLE calls DROP CONSTRAINT calls_status_check;
ALTER TABLE calls ADD CONSTRAINT calls_status_check
    CHECK (status IN ('queued', 'dialing', 'ringing', 'answered', 'completed', 'failed'));
