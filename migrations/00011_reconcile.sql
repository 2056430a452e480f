-- +goose Up
-- The reconciler of the workers checks each live LiveKit SIP call in turn
-- (the phone still in its room? past its max duration?): checked_at says
-- when it last did, and several workers claim different calls by it
-- (FOR UPDATE SKIP LOCKED).
ALTER TABLE calls ADD COLUMN checked_at timestamptz;
CREATE INDEX calls_live_livekit ON calls (checked_at NULLS FIRST)
    WHERE call_service = 'twilio' AND status IN ('dialing', 'ringing', 'answered');

-- +goose Down
DROP INDEX calls_live_livekit;
ALTER TABLE calls DROP COLUMN checked_at;
