-- +goose Up
-- Caps a trunk and a tenant put on their calls (docs/limits.md): how many
-- may be live at once, and how many may be dialed per second. The worker's
-- limiter (Redis) holds every call under its trunk's and its tenant's
-- before it is dialed. 0 is no cap, so existing trunks and tenants keep
-- dialing as they did. A carrier's own cap is the user's to enter: a
-- Twilio SIP trunk takes 1 call per second unless raised, Exotel 200 a
-- minute (3.333 per second).
ALTER TABLE trunks
    ADD COLUMN max_concurrent_calls integer NOT NULL DEFAULT 0 CHECK (max_concurrent_calls >= 0),
    ADD COLUMN calls_per_second double precision NOT NULL DEFAULT 0
        CHECK (calls_per_second >= 0 AND calls_per_second < 'Infinity');
ALTER TABLE tenants
    ADD COLUMN max_concurrent_calls integer NOT NULL DEFAULT 0 CHECK (max_concurrent_calls >= 0),
    ADD COLUMN calls_per_second double precision NOT NULL DEFAULT 0
        CHECK (calls_per_second >= 0 AND calls_per_second < 'Infinity');

-- +goose Down
ALTER TABLE tenants DROP COLUMN calls_per_second, DROP COLUMN max_concurrent_calls;
ALTER TABLE trunks DROP COLUMN calls_per_second, DROP COLUMN max_concurrent_calls;
