-- 013 Provenance (docs/provenance.md): gateways' public keys, the signed batches the stream
-- accepted (what each signature covers), and findings (a batch received again).

-- A meter registered as signed: the stream refuses its unsigned, wrongly signed or
-- revoked-key batches (dead letters with the reason).
ALTER TABLE meters ADD COLUMN signed boolean NOT NULL DEFAULT false;

CREATE TABLE signing_keys (
    key_id          text PRIMARY KEY,
    signer          text        NOT NULL CHECK (signer IN ('gateway', 'das')),
    signer_id       text        NOT NULL,
    public_key      text        NOT NULL,  -- raw 32-byte Ed25519 key, base64
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz,
    revoked_at      timestamptz,
    revoked_reason  text,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX signing_keys_signer_idx ON signing_keys (signer_id);
COMMENT ON TABLE signing_keys IS
    'public keys gateways and DAS providers sign batches with; validity (rotation) and revocation';

-- One row per signed batch stored: enough to verify its signature again later without the
-- original message (head, key, signature, and every reading's hash and chain link in order).
CREATE TABLE signed_batches (
    source_id    text        NOT NULL,
    batch_id     text        NOT NULL,
    source       text        NOT NULL,
    meter_id     text        NOT NULL,  -- a signed batch is of one meter (the bridge never splits it)
    key_id       text        NOT NULL,
    sent_at      timestamptz NOT NULL,
    signature    bytea       NOT NULL,
    first_ts     timestamptz NOT NULL,
    last_ts      timestamptz NOT NULL,
    ts           timestamptz[] NOT NULL,
    seqs         bigint[]    NOT NULL,
    prev_hashes  text[]      NOT NULL,  -- NULL element: the chain's first reading
    hashes       bytea[]     NOT NULL,  -- schemas.envelope.reading_hash of each reading
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, batch_id)
);
CREATE INDEX signed_batches_meter_idx ON signed_batches (meter_id, first_ts);
COMMENT ON TABLE signed_batches IS
    'signed batches as received: what each signature covers, to verify stored readings against';

CREATE TABLE provenance_findings (
    id          bigserial PRIMARY KEY,
    found_at    timestamptz NOT NULL DEFAULT now(),
    kind        text        NOT NULL,  -- replayed_batch
    source_id   text        NOT NULL,
    batch_id    text,
    meter_id    text,
    first_ts    timestamptz,
    last_ts     timestamptz,
    detail      text        NOT NULL
);
CREATE INDEX provenance_findings_meter_idx ON provenance_findings (meter_id, first_ts);
COMMENT ON TABLE provenance_findings IS
    'what the stream noticed about provenance that changed nothing (a batch received again)';
