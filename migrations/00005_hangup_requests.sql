-- +goose Up
-- A hang-up asked through the API is stored on the call before it is
-- published to the workers. A worker that missed the message (it was
-- reconnecting to Redis, or none listened at that moment) finds the request
-- on its next heartbeat, when it vouches for the calls it holds.
ALTER TABLE calls ADD COLUMN hangup_reason text NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN hangup_requested_at timestamptz;

-- +goose Down
ALTER TABLE calls DROP COLUMN hangup_requested_at;
ALTER TABLE calls DROP COLUMN hangup_reason;
