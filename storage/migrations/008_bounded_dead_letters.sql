-- 008 Poison input (stream, ingest): dead letters are bounded and say where they came from.
-- A payload larger than a record may be is kept as a prefix; `payload_sha256` and
-- `payload_bytes` then describe the whole original. `origin` tells who refused it: the stream
-- worker, the MQTT bridge or the DAS intake (the last two reach this table through the
-- dead-letter topic, recorded by the stream worker), so `pts stream status` and
-- `pts stream redrive` see all of them.
ALTER TABLE dead_letters
    ADD COLUMN origin         text   NOT NULL DEFAULT 'stream'
        CHECK (origin IN ('stream', 'bridge', 'das-intake', 'redrive')),
    ADD COLUMN payload_sha256 text,
    ADD COLUMN payload_bytes  bigint;
CREATE INDEX dead_letters_origin_pending_idx ON dead_letters (origin, reason_code)
    WHERE redriven_at IS NULL;

CREATE OR REPLACE VIEW analyst_dead_letters AS
SELECT id, received_at, reason_code, reason, source_topic, source_partition, source_offset,
       ordinal, length(payload) AS payload_bytes, redriven_at, redrive_result, origin,
       coalesce(payload_bytes, length(payload)) AS original_bytes, payload_sha256
FROM dead_letters;

-- A reading whose per-source sequence number is not above that of the same source's previous
-- reading of the meter (a replay with old sequence numbers and new timestamps, or a gateway
-- whose counter was reset): stored, and recorded here for review (stream.sequence).
CREATE TABLE reading_sequence_anomalies (
    meter_id      text        NOT NULL,
    ts            timestamptz NOT NULL,
    source        text        NOT NULL,
    source_id     text        NOT NULL,
    seq           bigint      NOT NULL,
    previous_ts   timestamptz NOT NULL,
    previous_seq  bigint      NOT NULL,
    detected_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, ts)
);
COMMENT ON TABLE reading_sequence_anomalies IS
    'Readings whose sequence number did not increase after the same source''s previous reading.';
