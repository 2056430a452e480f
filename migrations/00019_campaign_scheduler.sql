-- +goose Up
-- What the campaign scheduler needs beyond 00016 (docs/campaigns.md).

-- Why a contact is where it is, in words: the retry it waits for, why it
-- was not dialed (no calling window opens, the do-not-call list), why it is
-- done (the agent's do_not_call disposition). The export shows it.
ALTER TABLE campaign_contacts ADD COLUMN reason text NOT NULL DEFAULT '';

-- The auto-pause counts only the calls that ended after this: a resume
-- starts its failure count anew, or it would pause again at once on the
-- failures that paused it.
ALTER TABLE campaigns ADD COLUMN failures_from timestamptz;

-- The auto-pause's and the progress's look at a campaign's recently
-- ended calls, without reading all of them.
CREATE INDEX calls_campaign_ended ON calls (campaign_id, ended_at) WHERE campaign_id IS NOT NULL AND ended_at IS NOT NULL;

-- The scheduler's look at the campaigns paused or canceled lately, whose
-- live calls it still follows.
CREATE INDEX campaigns_stopped ON campaigns (updated_at) WHERE status IN ('paused', 'canceled');

-- +goose Down
DROP INDEX campaigns_stopped;
DROP INDEX calls_campaign_ended;
ALTER TABLE campaigns DROP COLUMN failures_from;
ALTER TABLE campaign_contacts DROP COLUMN reason;
