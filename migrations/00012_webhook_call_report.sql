-- +goose Up
-- The call in webhooks carries the agent's report (calls.report, 00009) and
-- its duration to the millisecond, as GET /call/{id} shows them.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION webhook_call_data(c calls) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'call_id', c.id,
        'status', c.status,
        'failure_reason', c.failure_reason,
        'sip_status_code', c.sip_status_code,
        'sip_status', c.sip_status,
        'end_reason', c.end_reason,
        'ended_by', c.ended_by,
        'answered_at', webhook_time(c.answered_at),
        'ended_at', webhook_time(c.ended_at),
        'duration_seconds', CASE WHEN c.answered_at IS NOT NULL AND c.ended_at IS NOT NULL
            THEN round(extract(epoch FROM c.ended_at - c.answered_at)::numeric, 3) END,
        'to_number', c.to_number,
        'assistant_id', c.assistant_id,
        'trunk_id', c.trunk_id,
        'call_service', c.call_service,
        'room_name', c.room_name,
        'metadata', c.metadata,
        'created_at', webhook_time(c.created_at),
        'report', c.report)
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION webhook_call_data(c calls) RETURNS jsonb LANGUAGE sql STABLE AS $$
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
