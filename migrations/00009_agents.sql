-- +goose Up
-- Agents and dialq, both ways (docs/agents.md).
-- The worker dials only once the dispatched agent has joined the call's
-- room, waiting at most the assistant's agent_join_timeout_ms; an assistant
-- whose agent joins late on purpose turns the wait off (wait_for_agent).
ALTER TABLE assistants ADD COLUMN wait_for_agent boolean NOT NULL DEFAULT true;
ALTER TABLE assistants ADD COLUMN agent_join_timeout_ms integer NOT NULL DEFAULT 10000
    CHECK (agent_join_timeout_ms > 0);
-- Fixed on the call when it is accepted, as the agent name is: 0 dials
-- without waiting (the assistant's choice, and calls accepted before this).
ALTER TABLE calls ADD COLUMN agent_join_timeout_ms integer NOT NULL DEFAULT 0
    CHECK (agent_join_timeout_ms >= 0);

-- The agent's latest report of the call (POST /call/{id}/report), as the
-- API returns it: answered_by, disposition, summary, data, reported_at.
ALTER TABLE calls ADD COLUMN report jsonb;

-- +goose Down
ALTER TABLE calls DROP COLUMN report;
ALTER TABLE calls DROP COLUMN agent_join_timeout_ms;
ALTER TABLE assistants DROP COLUMN agent_join_timeout_ms;
ALTER TABLE assistants DROP COLUMN wait_for_agent;
