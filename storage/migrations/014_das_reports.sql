-- 014 web: DAS reports received through the web service's intake, for per-reading feedback
-- and idempotent retries.
-- A report is recorded before it is produced; its answer is kept so that the same
-- `Idempotency-Key` with the same body answers the same (no second record), and the same key
-- with another body is refused. Each row of the report is kept with what the intake decided
-- (refused with a code and reason, or sent in the Kafka record at topic/partition/offset), so
-- `GET /api/v1/das/reports/{id}` can tell, per reading, what the stream then decided: stored,
-- duplicate, conflict, or refused (its dead letter carries the same record position).

CREATE TABLE das_reports (
    report_id       text PRIMARY KEY,
    provider_id     text        NOT NULL REFERENCES das_providers (provider_id),
    idempotency_key text,
    body_sha256     text        NOT NULL,
    received_at     timestamptz NOT NULL,
    answer_status   integer,             -- NULL while the report is being produced
    answer          jsonb
);
CREATE UNIQUE INDEX das_reports_idempotency_idx ON das_reports (provider_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX das_reports_provider_idx ON das_reports (provider_id, received_at);

CREATE TABLE das_report_readings (
    report_id        text    NOT NULL REFERENCES das_reports (report_id) ON DELETE CASCADE,
    row_no           integer NOT NULL,   -- 1-based, as the provider sent them
    system_id        text    NOT NULL,
    meter_id         text,
    ts               timestamptz,
    energy_wh        bigint,
    seq              bigint,
    content_hash     text,
    intake_code      text,               -- refused by the intake: its reason code
    intake_reason    text,
    record_topic     text,               -- sent: the Kafka record that carried it
    record_partition integer,
    record_offset    bigint,
    PRIMARY KEY (report_id, row_no)
);

REVOKE ALL ON das_reports, das_report_readings FROM PUBLIC;
