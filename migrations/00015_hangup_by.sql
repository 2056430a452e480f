-- +goose Up
-- Who a hang-up asked for is in the name of: whoever removes a call's phone
-- stores why first (the API's hang-up, the agent leaving), so that whoever
-- then finds the phone gone (its participant_left webhook, the reconciler)
-- records the end that was meant, not the phone's.
ALTER TABLE calls ADD COLUMN hangup_by text NOT NULL DEFAULT '';
UPDATE calls SET hangup_by = 'api' WHERE hangup_reason <> '';

-- +goose Down
ALTER TABLE calls DROP COLUMN hangup_by;
