-- +goose Up
-- Calls dialed by dialq's own Exotel bridge live on in a worker process after
-- the dial task ends: they ring, are answered and end there. The row says
-- which worker holds the session and when it last vouched for it, so the
-- calls of a worker that died are found and closed.
ALTER TABLE calls DROP CONSTRAINT calls_status_check;
ALTER TABLE calls ADD CONSTRAINT calls_status_check
    CHECK (status IN ('queued', 'dialing', 'ringing', 'answered', 'completed', 'failed'));
ALTER TABLE calls ADD COLUMN end_reason text NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN bridge_worker text NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN bridge_seen_at timestamptz;
CREATE INDEX calls_bridged ON calls (bridge_seen_at)
    WHERE bridge_worker <> '' AND status IN ('dialing', 'ringing', 'answered');

-- +goose Down
DROP INDEX calls_bridged;
ALTER TABLE calls DROP COLUMN bridge_seen_at;
ALTER TABLE calls DROP COLUMN bridge_worker;
ALTER TABLE calls DROP COLUMN end_reason;
ALTER TABLE calls DROP CONSTRAINT calls_status_check;
ALTER TABLE calls ADD CONSTRAINT calls_status_check
    CHECK (status IN ('queued', 'dialing', 'answered', 'failed'));
