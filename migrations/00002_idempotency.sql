-- +goose Up
-- A client that retries POST /call/outbound with the same Idempotency-Key
-- gets the call it already made instead of a second one.
ALTER TABLE calls ADD COLUMN idempotency_key text;
ALTER TABLE calls ADD COLUMN request_hash bytea;
CREATE UNIQUE INDEX calls_idempotency ON calls (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- +goose Down
DROP INDEX calls_idempotency;
ALTER TABLE calls DROP COLUMN request_hash;
ALTER TABLE calls DROP COLUMN idempotency_key;
