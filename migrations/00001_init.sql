-- +goose Up
CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a key is stored; id is the key's public prefix.
CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_hash   bytea NOT NULL CHECK (length(key_hash) = 32),
    name       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE assistants (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name              text NOT NULL,
    prompt            text NOT NULL DEFAULT '',
    start_instruction text NOT NULL DEFAULT '',
    agent_name        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assistants_tenant ON assistants (tenant_id);

CREATE TABLE trunks (
    id               text PRIMARY KEY CHECK (id ~ '^ST_[A-Za-z0-9_-]{1,64}$'),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             text NOT NULL DEFAULT '',
    provider         text NOT NULL CHECK (provider IN ('twilio', 'exotel')),
    livekit_trunk_id text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (provider <> 'twilio' OR livekit_trunk_id <> '')
);
CREATE INDEX trunks_tenant ON trunks (tenant_id);

CREATE TABLE calls (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    assistant_id         uuid NOT NULL,
    trunk_id             text NOT NULL,
    to_number            text NOT NULL,
    call_service         text NOT NULL CHECK (call_service IN ('twilio', 'exotel')),
    metadata             jsonb NOT NULL DEFAULT '{}',
    -- fixed at accept time: what the worker dials with
    prompt               text NOT NULL DEFAULT '',
    start_instruction    text NOT NULL DEFAULT '',
    agent_name           text NOT NULL DEFAULT '',
    livekit_trunk_id     text NOT NULL DEFAULT '',
    -- progress, recorded step by step by the worker
    status               text NOT NULL CHECK (status IN ('queued', 'dialing', 'answered', 'failed')),
    failure_reason       text NOT NULL DEFAULT '',
    sip_status_code      integer NOT NULL DEFAULT 0,
    sip_status           text NOT NULL DEFAULT '',
    last_error           text NOT NULL DEFAULT '',
    attempts             integer NOT NULL DEFAULT 0,
    room_name            text NOT NULL DEFAULT '',
    dispatch_id          text NOT NULL DEFAULT '',
    dispatch_state       text NOT NULL DEFAULT '',
    participant_sid      text NOT NULL DEFAULT '',
    participant_identity text NOT NULL DEFAULT '',
    sip_call_id          text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    dialed_at            timestamptz,
    answered_at          timestamptz,
    ended_at             timestamptz
);
CREATE INDEX calls_tenant_created ON calls (tenant_id, created_at DESC);
-- the re-enqueue sweep looks for calls still queued
CREATE INDEX calls_queued ON calls (created_at) WHERE status = 'queued';

-- One timeline per call: every step and outcome, in order.
CREATE TABLE call_events (
    id      bigserial PRIMARY KEY,
    call_id uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL DEFAULT now(),
    kind    text NOT NULL,
    detail  text NOT NULL DEFAULT ''
);
CREATE INDEX call_events_call ON call_events (call_id, id);

-- +goose Down
DROP TABLE call_events;
DROP TABLE calls;
DROP TABLE trunks;
DROP TABLE assistants;
DROP TABLE api_keys;
DROP TABLE tenants;
