-- +goose Up
-- An agent hangs up by leaving the call's room, unless its assistant keeps
-- the call when the agent leaves (an agent that hands over, or restarts and
-- comes back): then the leaving is only a timeline event, and the no-agent
-- watchdog bounds the call (docs/call-lifecycle.md).
ALTER TABLE assistants ADD COLUMN end_call_on_agent_leave boolean NOT NULL DEFAULT true;
-- Fixed on the call when it is accepted, as the agent join timeout is; calls
-- accepted before this end as they always did.
ALTER TABLE calls ADD COLUMN end_call_on_agent_leave boolean NOT NULL DEFAULT true;
-- When an agent last left the call's room: an answered call with no agent
-- is hung up DIALQ_AGENT_GRACE after its answer or after this, whichever is
-- later.
ALTER TABLE calls ADD COLUMN agent_left_at timestamptz;

-- +goose Down
ALTER TABLE calls DROP COLUMN agent_left_at;
ALTER TABLE calls DROP COLUMN end_call_on_agent_leave;
ALTER TABLE assistants DROP COLUMN end_call_on_agent_leave;
