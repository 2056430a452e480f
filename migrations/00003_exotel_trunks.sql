-- +goose Up
-- How the Exotel bridge dials an exotel trunk. The password is sealed with
-- DIALQ_SECRET_KEY (AES-256-GCM) and never stored in the clear.
ALTER TABLE trunks ADD COLUMN sip_config jsonb;
ALTER TABLE trunks ADD COLUMN sip_password_enc bytea;

-- +goose Down
ALTER TABLE trunks DROP COLUMN sip_password_enc;
ALTER TABLE trunks DROP COLUMN sip_config;
