-- +goose Up
-- Outgoing webhooks (docs/webhooks.md): a tenant's endpoints, one delivery
-- per (event, endpoint), and every attempt at sending it.
--
-- The call state machine (00007) gives each timeline event that moved a
-- call the status it moved to. It adds the column itself; IF NOT EXISTS
-- here lets this migration stand without it and after it.
ALTER TABLE call_events ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT '';

CREATE TABLE webhook_endpoints (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url        text NOT NULL,
    events     text[] NOT NULL,
    -- whsec_<base64>: the HMAC key, needed in the clear to sign.
    secret     text NOT NULL,
    created_at timestamptz NOT NULL,
    -- Deleted endpoints are kept for their deliveries' history.
    deleted_at timestamptz
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL,
    call_id          uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    -- The timeline event of a status change; NULL for other events
    -- (call.report).
    event_id         bigint REFERENCES call_events (id) ON DELETE SET NULL,
    event_type       text NOT NULL,
    -- The Standard Webhooks webhook-id: the same on every attempt and
    -- redelivery, so a receiver can drop duplicates.
    webhook_id       text NOT NULL UNIQUE,
    -- The body, fixed when the event happened: a delivery late by hours
    -- still shows the call as it was then, and every attempt sends the
    -- same bytes.
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    -- attempts counts the attempts since the delivery was created or last
    -- redelivered: it picks the next backoff step. webhook_attempts has all.
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    -- A worker sending the delivery holds it until then.
    lease_until      timestamptz,
    last_status_code integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    last_latency_ms  integer NOT NULL DEFAULT 0,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_call ON webhook_deliveries (call_id, id);
-- A delivery waits for the earlier pending ones of its call and endpoint.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, call_id, id) WHERE status = 'pending';
-- The sweep looks for due deliveries whose task was lost.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (endpoint_id, id) WHERE status = 'failed';

CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    status_code integer NOT NULL DEFAULT 0,
    latency_ms  integer NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- The channel the workers LISTEN on for new deliveries: one per schema, so
-- that databases holding several (tests) do not wake each other.
-- +goose StatementBegin
CREATE FUNCTION webhook_channel() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT 'dialq_webhooks_' || current_schema()
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION webhook_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
-- +goose StatementEnd

-- The call as a webhook shows it. ended_by is read through to_jsonb so
-- that this function needs no column the state machine adds: it is ''
-- until there is one. report is filled in by the agent-report feature.
-- +goose StatementBegin
CREATE FUNCTION webhook_call_data(c calls) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'call_id', c.id,
        'status', c.status,
        'failure_reason', c.failure_reason,
        'sip_status_code', c.sip_status_code,
        'sip_status', c.sip_status,
        'end_reason', c.end_reason,
        'ended_by', coalesce(to_jsonb(c) ->> 'ended_by', ''),
        'answered_at', webhook_time(c.answered_at),
        'ended_at', webhook_time(c.ended_at),
        'duration_seconds', CASE WHEN c.answered_at IS NOT NULL AND c.ended_at IS NOT NULL
            THEN round(extract(epoch FROM c.ended_at - c.answered_at))::integer END,
        'to_number', c.to_number,
        'assistant_id', c.assistant_id,
        'trunk_id', c.trunk_id,
        'call_service', c.call_service,
        'room_name', c.room_name,
        'metadata', c.metadata,
        'created_at', webhook_time(c.created_at),
        'report', NULL)
$$;
-- +goose StatementEnd

-- webhook_enqueue makes one delivery of event_type about call c for each of
-- the tenant's endpoints that takes it, wakes the workers, and returns how
-- many it made. event_key names the event, so each delivery's webhook-id
-- is derived from the event and the endpoint alone.
-- +goose StatementBegin
CREATE FUNCTION webhook_enqueue(c calls, p_event_id bigint, p_event_type text, p_at timestamptz, p_event_key text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    body jsonb := jsonb_build_object('type', p_event_type, 'timestamp', webhook_time(p_at),
                                     'data', webhook_call_data(c));
    d record;
    n integer := 0;
BEGIN
    FOR d IN
        INSERT INTO webhook_deliveries (endpoint_id, tenant_id, call_id, event_id, event_type, webhook_id,
                                        payload, next_attempt_at, created_at)
        SELECT e.id, e.tenant_id, c.id, p_event_id, p_event_type, 'msg_' || md5(e.id::text || '/' || p_event_key),
               body, p_at, p_at
        FROM webhook_endpoints e
        WHERE e.tenant_id = c.tenant_id AND e.deleted_at IS NULL AND p_event_type = ANY (e.events)
        ORDER BY e.id
        RETURNING id, next_attempt_at
    LOOP
        PERFORM pg_notify(webhook_channel(), d.id || ':' || webhook_stamp(d.next_attempt_at));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
-- +goose StatementEnd

-- webhook_stamp is a delivery's schedule in microseconds: with its id it
-- names the task of one attempt, so that workers woken together enqueue it
-- once.
-- +goose StatementBegin
CREATE FUNCTION webhook_stamp(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT (extract(epoch FROM t) * 1000000)::bigint
$$;
-- +goose StatementEnd

-- Every status change of a call is one call_events row with status set:
-- its deliveries are made in the transaction that records it, so none is
-- lost and none is made for a change that rolled back.
-- +goose StatementBegin
CREATE FUNCTION webhook_call_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c calls;
BEGIN
    SELECT * INTO c FROM calls WHERE id = NEW.call_id;
    IF FOUND THEN
        PERFORM webhook_enqueue(c, NEW.id, 'call.' || NEW.status, NEW.at, 'call_event/' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER call_events_webhooks AFTER INSERT ON call_events
    FOR EACH ROW WHEN (NEW.status <> '') EXECUTE FUNCTION webhook_call_event();

-- +goose Down
DROP TRIGGER call_events_webhooks ON call_events;
DROP FUNCTION webhook_call_event();
DROP FUNCTION webhook_enqueue(calls, bigint, text, timestamptz, text);
DROP FUNCTION webhook_stamp(timestamptz);
DROP FUNCTION webhook_call_data(calls);
DROP FUNCTION webhook_time(timestamptz);
DROP FUNCTION webhook_channel();
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
-- call_events.status stays: 00007 owns it.
