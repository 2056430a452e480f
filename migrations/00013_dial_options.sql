-- +goose Up
-- Per-call dial options (POST /call/outbound: ring_timeout, max_duration,
-- caller_id, display_name, sip_headers, dtmf, play_ringtone, krisp,
-- wait_until), kept on the call as accepted so every attempt of its dial
-- task dials the same way. '{}' is a call that asked for none.
ALTER TABLE calls ADD COLUMN dial_options jsonb NOT NULL DEFAULT '{}';

-- The numbers a trunk may call from (caller_id is one of them): E.164 for
-- twilio trunks, the carrier's form for exotel's.
ALTER TABLE trunks ADD COLUMN numbers text[] NOT NULL DEFAULT '{}';
UPDATE trunks SET numbers = ARRAY[sip_config->>'caller_id']
    WHERE sip_config ? 'caller_id' AND sip_config->>'caller_id' <> '';

-- +goose Down
ALTER TABLE trunks DROP COLUMN numbers;
ALTER TABLE calls DROP COLUMN dial_options;
