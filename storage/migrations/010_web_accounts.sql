-- 010 web: sign-in credentials, sessions, personal API tokens, one-time links, account events
-- and the audit log of every write made through the web service.
-- Secrets (session cookies, API tokens, link tokens) are stored as SHA-256 hex digests only;
-- passwords as Argon2id hashes. The clear value is shown once and never stored or logged.

CREATE TABLE account_credentials (
    account_id          text PRIMARY KEY REFERENCES accounts (account_id),
    password_hash       text        NOT NULL,
    password_changed_at timestamptz NOT NULL,  -- sessions created before this are invalid
    disabled            boolean     NOT NULL DEFAULT false
);

CREATE TABLE web_sessions (
    session_sha256 text PRIMARY KEY,
    account_id     text        NOT NULL REFERENCES accounts (account_id),
    csrf_token     text        NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    address        text        NOT NULL DEFAULT '',
    revoked_at     timestamptz
);
CREATE INDEX web_sessions_account_idx ON web_sessions (account_id);

CREATE TABLE api_tokens (
    token_id     bigserial PRIMARY KEY,
    token_sha256 text        NOT NULL UNIQUE,
    account_id   text        NOT NULL REFERENCES accounts (account_id),
    label        text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_account_idx ON api_tokens (account_id);

-- One-time invitation and password-reset links (no mail server: shown to the admin).
CREATE TABLE account_links (
    link_sha256 text PRIMARY KEY,
    account_id  text        NOT NULL REFERENCES accounts (account_id),
    purpose     text        NOT NULL CHECK (purpose IN ('invitation', 'reset')),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- Append-only: sign-in successes and failures, sign-outs, password and token changes, with the
-- client address. `subject` is the account id as typed (it may name no account).
CREATE TABLE account_events (
    event_id bigserial PRIMARY KEY,
    subject  text        NOT NULL,
    tag      text        NOT NULL,
    address  text        NOT NULL,
    detail   jsonb       NOT NULL DEFAULT '{}',
    at       timestamptz NOT NULL
);
CREATE INDEX account_events_subject_idx ON account_events (subject, tag, at);
CREATE INDEX account_events_address_idx ON account_events (address, tag, at);
CREATE RULE account_events_no_update AS ON UPDATE TO account_events DO INSTEAD NOTHING;
CREATE RULE account_events_no_delete AS ON DELETE TO account_events DO INSTEAD NOTHING;

-- Append-only: every write through the web service: who, when, what, from which address, and
-- how it ended ('done' or the refusal code).
CREATE TABLE write_log (
    write_id   bigserial PRIMARY KEY,
    account_id text        NOT NULL,
    at         timestamptz NOT NULL,
    action     text        NOT NULL,
    target     text        NOT NULL DEFAULT '',
    address    text        NOT NULL,
    outcome    text        NOT NULL,
    message    text        NOT NULL DEFAULT ''  -- the refusal's reason, for the person who wrote
);
CREATE INDEX write_log_target_idx ON write_log (target, action, at);
CREATE INDEX write_log_at_idx ON write_log (at);
CREATE RULE write_log_no_update AS ON UPDATE TO write_log DO INSTEAD NOTHING;
CREATE RULE write_log_no_delete AS ON DELETE TO write_log DO INSTEAD NOTHING;

REVOKE ALL ON account_credentials, web_sessions, api_tokens, account_links FROM PUBLIC;
