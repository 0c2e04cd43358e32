-- 005 DAS credentials (ingest): API keys for REST/CSV intake and broker passwords.

-- API keys are stored as SHA-256 hex digests only; the key itself is shown once when created.
CREATE TABLE das_api_keys (
    key_sha256  text PRIMARY KEY,
    provider_id text        NOT NULL REFERENCES das_providers (provider_id),
    label       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX das_api_keys_provider_idx ON das_api_keys (provider_id);

-- The broker password of a provider's MQTT account, in clear: deploy/local/mosquitto.sh feeds
-- it to mosquitto_passwd (which hashes it) on `reload`. No role but the owner may read it.
CREATE TABLE das_mqtt_passwords (
    provider_id text PRIMARY KEY REFERENCES das_providers (provider_id),
    password    text        NOT NULL CHECK (password !~ '[\r\n]'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON das_api_keys, das_mqtt_passwords FROM PUBLIC;
