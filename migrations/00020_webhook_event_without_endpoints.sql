-- +goose Up
-- A call event of a tenant with no endpoint that takes it makes no
-- delivery: find that out before building the call's webhook body, which
-- every accepted call's call.queued event paid for (docs/benchmarks.md,
-- accept path).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION webhook_call_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c calls;
BEGIN
    SELECT * INTO c FROM calls WHERE id = NEW.call_id;
    IF FOUND AND EXISTS (SELECT 1 FROM webhook_endpoints e
                         WHERE e.tenant_id = c.tenant_id AND e.deleted_at IS NULL
                           AND ('call.' || NEW.status) = ANY (e.events)) THEN
        PERFORM webhook_enqueue(c, NEW.id, 'call.' || NEW.status, NEW.at, 'call_event/' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION webhook_call_event() RETURNS trigger LANGUAGE plpgsql AS $$
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
