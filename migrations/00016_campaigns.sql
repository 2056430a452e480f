-- +goose Up
-- Campaigns (docs/campaigns.md): contacts are rows, and a scheduler in the
-- workers turns the due ones into calls at the campaign's pace, so Redis
-- only ever holds what is about to be dialed.
CREATE TABLE campaigns (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           text NOT NULL,
    assistant_id   uuid NOT NULL,
    trunk_id       text NOT NULL,
    call_service   text NOT NULL,
    -- dialq.CampaignSettings as accepted, defaults filled in.
    settings       jsonb NOT NULL,
    -- scheduled → running ⇄ paused → completed | canceled
    status         text NOT NULL,
    -- Why it is paused or canceled (an auto-pause says what it saw).
    status_reason  text NOT NULL DEFAULT '',
    contacts_total integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    -- The scheduler's pacing: when it last placed calls, and the fraction
    -- of a call it owes from then (calls_per_second × elapsed, carried).
    paced_at       timestamptz,
    pace_credit    double precision NOT NULL DEFAULT 0,
    -- Round robin over the caller ID pool.
    caller_id_next bigint NOT NULL DEFAULT 0
);
CREATE INDEX campaigns_tenant_created ON campaigns (tenant_id, created_at DESC, id DESC);
CREATE INDEX campaigns_active ON campaigns (updated_at) WHERE status IN ('scheduled', 'running');

CREATE TABLE campaign_contacts (
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- The contact's line in the CSV (the header is line 1), or its index
    -- in the JSON contacts array from 1: what the validation report names.
    line        bigint NOT NULL,
    to_number   text NOT NULL,
    metadata    jsonb NOT NULL DEFAULT '{}',
    -- IANA zone its calling windows are read in.
    timezone    text NOT NULL,
    -- pending → calling → pending (a retry) | done | canceled | suppressed
    status      text NOT NULL,
    -- The status of its last call; with status done, its final outcome.
    outcome     text NOT NULL DEFAULT '',
    attempts    integer NOT NULL DEFAULT 0,
    -- Not dialed before this: start_at, a retry's delay, the next window.
    not_before  timestamptz NOT NULL,
    call_id     uuid,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, line)
);
CREATE INDEX campaign_contacts_due ON campaign_contacts (campaign_id, not_before, line) WHERE status = 'pending';
CREATE INDEX campaign_contacts_calling ON campaign_contacts (campaign_id) WHERE status = 'calling';
CREATE INDEX campaign_contacts_number ON campaign_contacts (campaign_id, to_number);

-- A tenant's do-not-call list: checked at upload and right before each dial.
CREATE TABLE suppressions (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number     text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, number)
);
CREATE INDEX suppressions_tenant_created ON suppressions (tenant_id, created_at DESC, number);

-- A campaign's call knows its contact; dial_by is when its window closes:
-- a call not dialed by then is not dialed at all.
ALTER TABLE calls ADD COLUMN campaign_id uuid;
ALTER TABLE calls ADD COLUMN contact_line bigint;
ALTER TABLE calls ADD COLUMN dial_by timestamptz;
CREATE INDEX calls_campaign ON calls (campaign_id, created_at DESC, id DESC) WHERE campaign_id IS NOT NULL;

-- +goose Down
DROP INDEX calls_campaign;
ALTER TABLE calls DROP COLUMN dial_by;
ALTER TABLE calls DROP COLUMN contact_line;
ALTER TABLE calls DROP COLUMN campaign_id;
DROP TABLE suppressions;
DROP TABLE campaign_contacts;
DROP TABLE campaigns;
